"""Behind a reverse proxy: only trusted hops' forwarding headers count; limits and audit see each real client."""

import ipaddress
from ipaddress import ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import ConfigError, load
from domain.limits import client_subject
from models import AuditEvent
from proxies import ipv4_masks, is_trusted, parse_address, walk, walk_from_trusted
from tests.support.helpers import STRONG_PASSWORD

PROXY = "127.0.0.1"
TRUSTED = (ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8"), ip_network("::1/128"))


# ----------------------------------------------------------------------------------------- the pieces


@pytest.mark.parametrize(
    "peer, forwarded_for, client, hops",
    [
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1", 1),
        ("127.0.0.1", ["203.0.113.9", "198.51.100.1"], "198.51.100.1", 1),  # the client's own claim is left of it
        ("127.0.0.1", ["198.51.100.1", "10.1.2.3"], "198.51.100.1", 2),  # two proxies of ours
        ("127.0.0.1", ["10.1.2.3", "127.0.0.1"], "10.1.2.3", 2),  # only trusted hops: the leftmost
        ("127.0.0.1", [], "127.0.0.1", 0),
        ("192.0.2.50", ["198.51.100.1"], "192.0.2.50", 0),  # not from a proxy: the header is the client's word
        ("127.0.0.1", ["garbage", "10.1.2.3"], "10.1.2.3", 1),  # an unreadable entry: the nearest trusted hop
        ("127.0.0.1", ["[2001:db8::7]:4711"], "2001:db8::7", 1),
        ("127.0.0.1", ["198.51.100.1:4711"], "198.51.100.1", 1),
        ("::ffff:127.0.0.1", ["198.51.100.1"], "198.51.100.1", 1),  # an IPv4-mapped peer is that IPv4 address
        ("::1", ["2001:db8::1"], "2001:db8::1", 1),
    ],
)
def test_walk_from_the_right_past_trusted_hops(peer, forwarded_for, client, hops):
    assert walk(peer, forwarded_for, TRUSTED) == (client, hops)


def _plainly_walked_from_trusted(forwarded_for, networks):
    """walk_from_trusted read plainly: every entry made an address, written back and looked up in the networks."""
    walked = []
    for address in map(parse_address, reversed(forwarded_for)):
        if address is None:
            break
        walked.append(address)
        if not is_trusted(address, networks):
            break
    return (str(walked[-1]), len(walked)) if walked else (PROXY, 0)


def _leading_zeros(address):
    return ".".join(f"0{octet}" if n % 2 else octet for n, octet in enumerate(address.split(".")))


HOP = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(network="10.0.0.0/8").map(str),  # trusted in most network sets below
    st.ip_addresses(network="127.0.0.0/30").map(str),
    st.ip_addresses(v=4).map(str).map(_leading_zeros),  # not an address to ipaddress
    st.ip_addresses(v=4).map(lambda a: f"{a}:4711"),
    st.ip_addresses(v=4).map(lambda a: f" {a} "),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.sampled_from(["unknown", "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "१.२.३.४", "1.2.3.4\n", "00.1.2.3"]),
)
NETWORK_SETS = st.sampled_from(
    [
        TRUSTED,
        (ip_network("127.0.0.1/32"),),
        (ip_network("::/0"),),  # every IPv6 hop, no IPv4 one
        (ip_network("0.0.0.0/0"), ip_network("::ffff:0:0/96")),
        (ip_network("10.0.0.0/8"), ip_network("127.0.0.0/30"), ip_network("2001:db8::/32")),
    ]
)


@given(forwarded_for=st.lists(HOP, max_size=5), networks=NETWORK_SETS)
def test_property_an_ipv4_hop_read_without_an_address_object_walks_as_a_parsed_one(forwarded_for, networks):
    """Entries spelt as IPv4 addresses are read as integers against the networks' masks: the same walk as parsing
    every entry into an address."""
    expected = _plainly_walked_from_trusted(forwarded_for, networks)
    assert walk_from_trusted(PROXY, forwarded_for, networks, ipv4_masks(networks)) == expected
    assert walk_from_trusted(PROXY, forwarded_for, networks) == expected


def test_parse_address_refuses_what_is_not_an_address():
    assert parse_address("unknown") is None and parse_address("") is None and parse_address("_hidden") is None
    assert str(parse_address(" 2001:DB8::1 ")) == "2001:db8::1"


@pytest.mark.parametrize(
    "address, subject",
    [
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::2", "2001:db8::/64"),
        ("2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        ("198.51.100.1", "198.51.100.1"),
        ("unknown", "unknown"),
    ],
)
def test_limits_key_ipv6_clients_on_their_slash_64(address, subject):
    assert client_subject(address) == subject


@given(st.one_of(st.ip_addresses(v=4).map(str), st.text(st.characters(exclude_characters=":"), max_size=20)))
def test_an_address_without_a_colon_is_its_own_subject_as_parsing_it_would_say(address):
    """client_subject does not parse these (every request asks): it must give what parsing them would give."""
    try:
        parsed = str(ipaddress.ip_address(address))
    except ValueError:
        parsed = address
    assert client_subject(address) == parsed


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("", None),
        ("1", 1),
        ("2", 2),
        ("127.0.0.1", (ip_network("127.0.0.1/32"),)),
        ("127.0.0.1, ::1,10.0.0.0/8", (ip_network("127.0.0.1/32"), ip_network("::1/128"), ip_network("10.0.0.0/8"))),
    ],
)
def test_trusted_proxies_setting(raw, expected):
    assert load({"KAPU_TRUSTED_PROXIES": raw, "KAPU_SECRET_KEY": "x" * 20})["KAPU_TRUSTED_PROXIES"] == expected


@pytest.mark.parametrize("raw", ["0", "11", "yes", "127.0.0.1,", "127.0.0.300", "10.0.0.0/33", "nginx", "-1"])
def test_an_unusable_trusted_proxies_setting_names_the_variable(raw):
    with pytest.raises(ConfigError, match="^KAPU_TRUSTED_PROXIES must be"):
        load({"KAPU_TRUSTED_PROXIES": raw, "KAPU_SECRET_KEY": "x" * 20})


# ------------------------------------------------------------------------------ through the whole app


class Visitor:
    """One browser: its own cookies, reaching Kapu from *peer*, with the proxy's X-Forwarded-For (if any)."""

    def __init__(self, app, forwarded_for=None, peer=PROXY, proto=None):
        self.client = app.test_client()
        self.environ = {"REMOTE_ADDR": peer}
        self.headers = {}
        self.token = None
        if forwarded_for:
            self.headers["X-Forwarded-For"] = forwarded_for
        if proto:
            self.headers["X-Forwarded-Proto"] = proto

    def get(self, path):
        return self.client.get(path, environ_base=self.environ, headers=self.headers)

    def post(self, path, **data):
        if self.token is None:  # one token for the session, as in a browser
            page = self.get(path).get_data(as_text=True)
            self.token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        return self.client.post(
            path, data={"csrf_token": self.token, **data}, environ_base=self.environ, headers=self.headers
        )

    def activate(self, username, code):
        return self.post(
            "/activate", username=username, code=code, password=STRONG_PASSWORD, password_confirm=STRONG_PASSWORD
        )

    def register(self, n):
        return self.post("/register", username=f"polgar.{n}", full_name="Polgár Péter", email=f"p{n}@example.hu")


def spray_wrong_codes(visitor, count=50):
    statuses = [visitor.activate(f"nobody.{n}", "ABCDE-23456").status_code for n in range(count)]
    assert statuses == [400] * count


def audited_addresses(app, kind):
    with app.app_context():
        return [e.client_address for e in AuditEvent.select().where(AuditEvent.kind == kind).order_by(AuditEvent.id)]


@pytest.fixture
def pending(make_app):
    """(app, code) for kovacs.janos, registered at an office, on an app with the given proxy setting."""

    def make(trusted, wrong_codes=50):
        from tests.support.helpers import Mailbox

        app = make_app(KAPU_TRUSTED_PROXIES=trusted, KAPU_CLIENT_WRONG_CODES_PER_HOUR=wrong_codes)
        from domain import registration

        with app.test_request_context():
            registration.register(
                app.extensions["kapu"],
                username="kovacs.janos",
                full_name="Kovács János",
                email="janos@example.hu",
                language="hu",
                channel="office",
            )
        return app, Mailbox(app).last_code()

    return make


@pytest.mark.parametrize("trusted", ["127.0.0.1,::1,10.0.0.0/8", "1"])
def test_fifty_wrong_codes_from_one_client_do_not_stop_another_clients_activation(pending, trusted):
    app, code = pending(trusted)
    attacker = Visitor(app, forwarded_for="198.51.100.66")
    spray_wrong_codes(attacker)
    assert attacker.activate("kovacs.janos", code).status_code == 429  # the attacker's own budget is spent
    citizen = Visitor(app, forwarded_for="198.51.100.7")
    assert citizen.activate("kovacs.janos", code).status_code == 200
    addresses = audited_addresses(app, "activation")
    assert addresses.count("198.51.100.66") == 51 and addresses[-1] == "198.51.100.7"
    assert PROXY not in addresses


def test_without_the_setting_forwarding_headers_are_ignored(pending):
    """A client cannot choose its address: every 'different' X-Forwarded-For is still the one peer."""
    app, code = pending("", wrong_codes=5)
    for n in range(5):
        assert Visitor(app, forwarded_for=f"198.51.100.{n}").activate(f"nobody.{n}", "ABCDE-23456").status_code == 400
    assert Visitor(app, forwarded_for="198.51.100.200").activate("kovacs.janos", code).status_code == 429
    assert set(audited_addresses(app, "activation")) == {PROXY}


def test_a_client_cannot_spoof_its_address_through_a_trusted_proxy(pending):
    """The proxy appends what it saw; what the client wrote itself sits further left and is never reached."""
    app, code = pending(PROXY, wrong_codes=5)
    spray_wrong_codes(Visitor(app, forwarded_for="203.0.113.1, 198.51.100.66"), 5)
    spoofed = Visitor(app, forwarded_for="203.0.113.2, 198.51.100.66")
    assert spoofed.activate("kovacs.janos", code).status_code == 429
    assert set(audited_addresses(app, "activation")) == {"198.51.100.66"}


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client(pending):
    app, code = pending(PROXY, wrong_codes=5)
    spray_wrong_codes(Visitor(app, forwarded_for="198.51.100.1", peer="192.0.2.50"), 5)
    assert (
        Visitor(app, forwarded_for="198.51.100.2", peer="192.0.2.50").activate("kovacs.janos", code).status_code == 429
    )
    assert set(audited_addresses(app, "activation")) == {"192.0.2.50"}


def test_registrations_from_different_real_clients_are_counted_apart(make_app):
    app = make_app(KAPU_TRUSTED_PROXIES=PROXY, KAPU_CLIENT_MAILS_PER_HOUR=3)
    first = Visitor(app, forwarded_for="198.51.100.1")
    assert [first.register(n).status_code for n in range(4)] == [200, 200, 200, 429]
    second = Visitor(app, forwarded_for="198.51.100.2")
    assert second.register(10).status_code == 200
    with app.app_context():
        events = AuditEvent.select().where(AuditEvent.kind == "registration").order_by(AuditEvent.id)
        assert [(e.outcome, e.client_address) for e in events] == [("created", "198.51.100.1")] * 3 + [
            ("rate_limited", "198.51.100.1"),
            ("created", "198.51.100.2"),
        ]


def test_an_ipv6_client_shares_its_slash_64_budget_and_audit_keeps_the_full_address(pending):
    app, code = pending(PROXY, wrong_codes=5)
    spray_wrong_codes(Visitor(app, forwarded_for="2001:db8::1"), 5)
    assert Visitor(app, forwarded_for="2001:db8::2").activate("kovacs.janos", code).status_code == 429
    assert Visitor(app, forwarded_for="2001:db8:0:1::2").activate("kovacs.janos", code).status_code == 200
    addresses = audited_addresses(app, "activation")
    assert addresses == ["2001:db8::1"] * 5 + ["2001:db8::2", "2001:db8:0:1::2"]  # the refusal, then success


def test_the_scheme_counts_only_from_a_trusted_proxy(make_app):
    app = make_app(KAPU_TRUSTED_PROXIES=PROXY)
    # From the proxy, https is believed: HSTS goes out and Flask-WTF's strict https check applies.
    through_proxy = Visitor(app, forwarded_for="198.51.100.1", proto="https")
    assert "Strict-Transport-Security" in through_proxy.get("/login").headers
    refused = through_proxy.post("/login", username="nobody.here", password="wrong password!")
    assert refused.status_code == 400  # no same-origin Referer over https
    with app.app_context():
        assert "referrer header is missing" in AuditEvent.get(AuditEvent.kind == "csrf").detail
    through_proxy.headers["Referer"] = "https://localhost/login"
    assert through_proxy.post("/login", username="nobody.here", password="wrong password!").status_code == 401
    # A client talking to Kapu directly cannot claim https.
    direct = Visitor(app, forwarded_for="198.51.100.1", peer="192.0.2.50", proto="https")
    assert "Strict-Transport-Security" not in direct.get("/login").headers
    assert direct.post("/login", username="nobody.here", password="wrong password!").status_code == 401


def test_without_the_setting_the_scheme_header_is_ignored(make_app):
    visitor = Visitor(make_app(), forwarded_for="198.51.100.1", proto="https")
    assert "Strict-Transport-Security" not in visitor.get("/login").headers
    assert visitor.post("/login", username="nobody.here", password="wrong password!").status_code == 401


def test_the_per_client_post_cap_sees_real_clients(make_app):
    app = make_app(KAPU_TRUSTED_PROXIES="1", KAPU_CLIENT_POSTS_PER_MINUTE=2)
    first = Visitor(app, forwarded_for="198.51.100.1")
    statuses = [first.post("/login", username="a.b.c", password="x").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert Visitor(app, forwarded_for="198.51.100.2").post("/login", username="a.b.c", password="x").status_code == 401
    assert audited_addresses(app, "login")[-1] == "198.51.100.2"
