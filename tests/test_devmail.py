"""/dev/mailbox shows live codes: on only when asked for, and never where the public could reach it."""

import pytest

FORWARDING_HEADERS = [
    {"Forwarded": "for=192.0.2.7;proto=https"},
    {"X-Forwarded-For": "127.0.0.1"},
    {"X-Forwarded-Proto": "http"},
    {"X-Forwarded-Host": "127.0.0.1"},
    {"X-Real-IP": "127.0.0.1"},
]


@pytest.fixture
def devmail_app(make_app):
    return lambda **settings: make_app(KAPU_DEV_MAILBOX="1", **settings)


def test_on_with_the_flag_for_a_local_browser(devmail_app, registered):
    response = devmail_app().test_client().get("/dev/mailbox")
    assert response.status_code == 200 and "janos@example.hu" in response.get_data(as_text=True)


def test_off_by_default(client, registered):
    assert client.get("/dev/mailbox").status_code == 404


def test_refused_when_mail_really_goes_out(devmail_app):
    assert devmail_app(KAPU_SMTP_HOST="127.0.0.1").test_client().get("/dev/mailbox").status_code == 404


def test_refused_when_the_base_url_is_https(devmail_app):
    app = devmail_app(KAPU_BASE_URL="https://127.0.0.1:5000")
    assert app.test_client().get("/dev/mailbox", base_url="https://127.0.0.1:5000").status_code == 404
    assert app.test_client().get("/dev/mailbox").status_code == 404


def test_refused_to_other_machines(devmail_app):
    client = devmail_app().test_client()
    assert client.get("/dev/mailbox", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404


@pytest.mark.parametrize("headers", FORWARDING_HEADERS, ids=lambda h: next(iter(h)))
@pytest.mark.parametrize("trusted", ["", "1", "127.0.0.1"])
def test_refused_when_a_request_carries_any_forwarding_header(devmail_app, headers, trusted):
    """A local proxy makes every visitor local: a forwarding header means one stands in front, trusted or not."""
    client = devmail_app(KAPU_TRUSTED_PROXIES=trusted).test_client()
    assert client.get("/dev/mailbox").status_code == 200
    assert client.get("/dev/mailbox", headers=headers).status_code == 404


def test_the_flag_is_validated():
    from config import ConfigError, load

    with pytest.raises(ConfigError, match="KAPU_DEV_MAILBOX"):
        load({"KAPU_DEV_MAILBOX": "maybe", "KAPU_SECRET_KEY": "x" * 20})
