"""Names and usernames cannot carry phishing text, cannot imitate another user, and mail never links them."""

import re

import pytest

from domain import registration
from models import Account, OutboxMessage
from tests.support.helpers import csrf_token

PHISHING = "FONTOS: a fiókját felfüggesztettük, lépjen be itt: https://kapu-gov-hu.example/belepes"


def register(client, username="nagy.eva", full_name="Nagy Éva", email="eva@example.hu"):
    return client.post(
        "/register",
        data={
            "csrf_token": csrf_token(client),
            "username": username,
            "full_name": full_name,
            "email": email,
        },
    )


@pytest.mark.parametrize(
    "full_name",
    [
        "Nagy Éva",
        "Dr. Kiss J.",
        "O'Brien Mary-Ann",
        "Szabó-Nagy Anna Mária",
        "Иван Петров",
        "李小龍",
        "Ng",
        "Ο’Κόννορ Γιώργος",
    ],
)
def test_real_names_in_any_script_are_accepted(client, app, full_name):
    assert register(client, full_name=full_name).status_code == 200
    with app.app_context():
        assert Account.get().full_name == full_name


@pytest.mark.parametrize(
    "full_name, message",
    [
        (PHISHING, "only letters, spaces"),
        ("Kapu.hu Ügyfélszolgálat", "only letters, spaces"),
        ("Nagy Éva <b>", "only letters, spaces"),
        ("Nagy Éva 2", "only letters, spaces"),
        ("-- .", "only letters, spaces"),
        ("É", "2 to 100 characters"),
        ("Á" * 101, "2 to 100 characters"),
    ],
)
def test_names_that_are_not_names_are_refused(client, app, full_name, message):
    response = register(client, full_name=full_name)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert Account.select().count() == 0 and OutboxMessage.select().count() == 0


@pytest.mark.parametrize(
    "username",
    [
        "kapu-gov-hu.example",
        "kapu.gov.hu",
        "ugyfelkapu.com",
        "www.kapu",
        "wwwkapu",
        "http.kapu",
        "https-kapu",
        "belepes.bank",
        "kapu.test",
        "kiss.co.uk",
        "xn--kapu-9na.x",
        # A link finder stops a host name at "_", at a trailing "-" or "." and at "..": the domain inside counts.
        "kapu-gov-hu.example_1",
        "ugyfelkapu.com-",
        "belepes.kapu.hu.1",
        "kapu..belepes.hu",
        "_kapu.hu_",
        "192.0.2.10",
        "belepes_10.0.0.1",
    ],
)
def test_usernames_shaped_like_web_addresses_are_refused(client, app, username):
    response = register(client, username=username)
    assert response.status_code == 422
    assert "cannot look like a web address" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["\u0430nna", "ann\u0430", "kov\u0430cs.janos", "p\u0430ypal", "ivan.иванов"])
def test_usernames_mixing_scripts_are_refused(client, app, username):
    response = register(client, username=username)
    assert response.status_code == 422
    assert "letters of one alphabet" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "username",
    [
        "kovacs.janos",
        "nagy.eva",
        "szabó_anna",
        "анна",
        "иван.петров",
        "γιώργος",
        "山田たろう",
        "kiss.anna.1990",
        "toth_b.eva-1",
    ],
)
def test_ordinary_usernames_in_one_script_are_accepted(client, app, username):
    assert register(client, username=username).status_code == 200


def test_a_cyrillic_lookalike_cannot_pose_as_an_existing_user(client, app, mailbox):
    assert register(client, username="anna", email="anna@example.hu").status_code == 200
    impostor = register(client, username="\u0430nna", email="evil@example.hu")
    assert impostor.status_code == 422
    with app.app_context():
        assert [a.username for a in Account.select()] == ["anna"]


def test_the_command_line_uses_the_same_rules(runner, app):
    name = runner.invoke(
        args=["register", "--username", "nagy.eva", "--full-name", PHISHING, "--email", "eva@example.hu"]
    )
    assert name.exit_code != 0 and "--full-name" in name.output and "only letters" in name.output
    user = runner.invoke(
        args=["register", "--username", "kapu-gov-hu.example", "--full-name", "Nagy Éva", "--email", "eva@example.hu"]
    )
    assert user.exit_code != 0 and "--username" in user.output and "web address" in user.output
    mixed = runner.invoke(
        args=["register", "--username", "\u0430nna", "--full-name", "Nagy Éva", "--email", "eva@example.hu"]
    )
    assert mixed.exit_code != 0 and "one alphabet" in mixed.output
    with app.app_context():
        assert Account.select().count() == 0


def test_the_desk_uses_the_same_rules(auth):
    clerk = auth.staff_login("clerk.bp", "clerk", office="BP-V-OKM")
    response = clerk.post(
        "/desk/register",
        data={
            "csrf_token": csrf_token(clerk),
            "username": "www.kapu",
            "full_name": PHISHING,
            "email": "x@example.hu",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "web address" in page and "only letters" in page


def links_in_text(text):
    """What a mail client would make clickable in a plain-text body: URLs, www. and bare domain names."""
    return re.findall(r"https?://\S+|www\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:hu|com|example|gov)\b", text)


@pytest.mark.parametrize(
    "full_name, username, greeting",
    [
        (PHISHING, "kapu-gov-hu.example", "Tisztelt Ügyfelünk!"),  # stored before the rules existed
        ("Kovács János", "kapu-gov-hu.example_1", "Tisztelt Kovács János!"),  # a mail client links the domain inside
        ("Kiss <a href='https://evil.example'>kattintson</a>", "kiss.anna", "Tisztelt Ügyfelünk!"),
    ],
)
def test_mail_never_turns_a_stored_name_or_username_into_a_link(app, services, mailbox, full_name, username, greeting):
    with app.test_request_context():
        registration.register(
            services, username=username, full_name=full_name, email="victim@example.hu", language="hu", channel="office"
        )
    message, text = mailbox.messages("victim@example.hu")[0]
    assert [link for link in links_in_text(text) if not link.startswith("http://kapu.test/")] == []
    assert "kapu-gov-hu" not in text and "evil.example" not in text
    assert greeting in text.splitlines()
    with app.app_context():
        from domain import outbox

        html = outbox.unseal(services, OutboxMessage.get(OutboxMessage.id == message.id))["html"]
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(href.startswith("http://kapu.test/") for href in hrefs)
    assert "evil.example" not in html and "kapu-gov-hu" not in html


def test_mail_keeps_ordinary_names_and_usernames(app, services, mailbox):
    with app.test_request_context():
        registration.register(
            services,
            username="kovacs.janos",
            full_name="Dr. Kovács J. János",
            email="janos@example.hu",
            language="en",
            channel="office",
        )
    text = mailbox.last_text("janos@example.hu")
    assert "Dear Dr. Kovács J. János," in text.splitlines() and "(kovacs.janos)" in text


def test_an_over_long_username_or_address_is_refused_before_any_costly_check(client, app):
    """WTForms runs every validator of a field even after one failed: the length cap has to end the chain, or a
    40 KB name made of dots is read for domain endings (seconds of CPU a request)."""
    import time

    started = time.perf_counter()
    response = register(client, username="a." * 20_000 + "kapu.hu", email="x" * 10_000 + "@example.hu")
    elapsed = time.perf_counter() - started
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and elapsed < 2.0, f"{elapsed:.1f} s"
    assert "A username is at most 64 characters." in page and "web address" not in page
    assert "An e-mail address is at most 254 characters." in page and "like name@example.hu" not in page
