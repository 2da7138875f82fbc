"""KAPU_SECRET_KEY_FALLBACKS: after a rotation old links, codes, sessions and pending mail still work."""

from __future__ import annotations

import logging
import re

import pytest
from cryptography.fernet import InvalidToken
from itsdangerous import URLSafeTimedSerializer

import config
from domain import delivery, outbox, registration
from domain.context import mail_domain
from domain.delivery import SmtpSettings
from models import Account, OutboxMessage
from tests.support.helpers import STRONG_PASSWORD, csrf_token, register_citizen

OLD_KEY = "the-old-secret-key-0123456789"
NEW_KEY = "the-new-secret-key-9876543210"


@pytest.fixture
def keyed_app(make_app, smtp):
    """An app with this secret key (and fallbacks) that delivers to the test's SMTP server."""
    return lambda key, fallbacks="": make_app(
        KAPU_SECRET_KEY=key, KAPU_SECRET_KEY_FALLBACKS=fallbacks, KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=smtp.port
    )


def register(app, username="kovacs.janos", email="janos@example.hu"):
    """A registration whose mail is still waiting in the outbox; returns (code, link path)."""
    services = app.extensions["kapu"]
    register_citizen(app, username, email, language="en")
    with app.app_context():
        text = outbox.unseal(services, OutboxMessage.select().order_by(OutboxMessage.id.desc()).first())["text"]
    code = re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b", text).group(1)
    return code, re.search(r"http://kapu\.test(/activate/\S+)", text).group(1)


def deliver(app):
    with app.app_context():
        return delivery.deliver_due(app.extensions["kapu"], SmtpSettings.from_config(app.config))


def test_after_rotation_pending_mail_goes_out_and_the_old_link_and_code_activate(keyed_app, smtp):
    old = keyed_app(OLD_KEY)
    code, link = register(old)
    old_client = old.test_client()
    old_client.get("/?lang=hu")  # a session signed with the old key
    session_cookie = old_client.get_cookie("session").value

    new = keyed_app(NEW_KEY, fallbacks=OLD_KEY)
    assert deliver(new) == 1
    assert code in smtp.handler.received[0]["message"].get_body(("plain",)).get_content()

    client = new.test_client()
    client.set_cookie("session", session_cookie)
    assert '<html lang="hu"' in client.get("/").get_data(as_text=True)  # the old session still holds
    page = client.get(link, follow_redirects=True)
    assert page.status_code == 200 and f'value="{code}"' in page.get_data(as_text=True)
    client.post(
        "/activate",
        data={
            "csrf_token": csrf_token(client),
            "username": "kovacs.janos",
            "code": code,
            "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD,
        },
    )
    with new.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "active"


def registration_form(username):
    """A registration a citizen fills in on a page drawn earlier (its CSRF token from then)."""
    return {"username": username, "full_name": "Kovács János", "email": f"{username}@example.hu"}


@pytest.mark.parametrize("how", ["form", "htmx header"])
def test_a_form_drawn_before_the_rotation_still_submits(keyed_app, how):
    old_client = keyed_app(OLD_KEY).test_client()
    token = csrf_token(old_client, "/register")  # the page was drawn with the old key
    session_cookie = old_client.get_cookie("session").value

    new = keyed_app(NEW_KEY, fallbacks=OLD_KEY)
    client = new.test_client()
    client.set_cookie("session", session_cookie)
    fields = registration_form("kovacs.janos")
    if how == "form":
        response = client.post("/register", data={"csrf_token": token, **fields})
    else:
        response = client.post("/register", data=fields, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    with new.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "pending"
    # A form drawn after the rotation carries a token of the current key.
    fresh = csrf_token(client, "/register")
    assert URLSafeTimedSerializer(NEW_KEY, salt="wtf-csrf-token").loads(fresh)


def test_a_token_of_a_key_that_is_no_longer_listed_or_of_another_session_is_refused(keyed_app):
    old_client = keyed_app(OLD_KEY).test_client()
    token = csrf_token(old_client, "/register")
    session_cookie = old_client.get_cookie("session").value

    forgot = keyed_app(NEW_KEY, fallbacks="z" * 20).test_client()  # the old key is not among the fallbacks
    forgot.set_cookie("session", session_cookie)
    answer = forgot.post("/register", data={"csrf_token": token, **registration_form("kovacs.janos")})
    assert answer.status_code == 400 and "form expired" in answer.get_data(as_text=True)

    stranger = keyed_app(NEW_KEY, fallbacks=OLD_KEY).test_client()  # the old key, but another visitor's session
    csrf_token(stranger, "/register")
    answer = stranger.post("/register", data={"csrf_token": token, **registration_form("kovacs.janos")})
    assert answer.status_code == 400
    with keyed_app(NEW_KEY).app_context():
        assert not Account.select().where(Account.username == "kovacs.janos").exists()


def test_email_change_links_signed_before_the_rotation_still_verify(keyed_app):
    old = keyed_app(OLD_KEY).extensions["kapu"]
    rotated = keyed_app(NEW_KEY, fallbacks=OLD_KEY).extensions["kapu"]
    forgot = keyed_app(NEW_KEY).extensions["kapu"]
    payload = {"a": 1, "n": "0123456789abcdef"}
    for signer in ("email_links", "email_cancel_links"):
        token = getattr(old, signer).sign(payload)
        assert getattr(rotated, signer).check(token).data == payload
        assert getattr(forgot, signer).check(token).status == "invalid"
        assert getattr(old, signer).check(getattr(rotated, signer).sign(payload)).status == "invalid"  # new key signs


def test_new_things_are_signed_and_sealed_with_the_current_key_only(keyed_app):
    new = keyed_app(NEW_KEY, fallbacks=OLD_KEY)
    code, link = register(new, "uj.polgar", "uj@example.hu")
    only_old = keyed_app(OLD_KEY)
    assert code not in only_old.test_client().get(link).get_data(as_text=True)
    with only_old.app_context():
        message = OutboxMessage.get(OutboxMessage.recipient == "uj@example.hu")
        with pytest.raises(InvalidToken):
            outbox.unseal(only_old.extensions["kapu"], message)


def test_mail_sealed_with_a_forgotten_key_is_marked_failed_once_with_one_clear_line(keyed_app, smtp, caplog):
    old = keyed_app(OLD_KEY)
    register(old)
    forgot = keyed_app(NEW_KEY)  # rotated without listing the old key
    with caplog.at_level(logging.ERROR, logger="kapu.delivery"):
        assert deliver(forgot) == 0
        assert deliver(forgot) == 0
    lines = [record for record in caplog.records if record.name == "kapu.delivery"]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "KAPU_SECRET_KEY_FALLBACKS" in lines[0].getMessage()
    with forgot.app_context():
        message = OutboxMessage.get()
        assert message.status == "failed" and "decrypted" in message.last_error
    assert smtp.handler.received == []


def test_fallback_keys_are_validated():
    with pytest.raises(config.ConfigError, match="KAPU_SECRET_KEY_FALLBACKS"):
        config.load({"KAPU_SECRET_KEY": NEW_KEY, "KAPU_SECRET_KEY_FALLBACKS": "short"}, "/tmp/kapu-unused")
    settings = config.load(
        {"KAPU_SECRET_KEY": NEW_KEY, "KAPU_SECRET_KEY_FALLBACKS": f" {OLD_KEY} , {'z' * 20}"}, "/tmp/kapu-unused"
    )
    assert settings["SECRET_KEY_FALLBACKS"] == [OLD_KEY, "z" * 20]


@pytest.mark.parametrize(
    ("base_url", "mail_from", "domain"),
    [
        ("https://kapu.example.hu", "Kapu <no-reply@localhost>", "kapu.example.hu"),
        ("http://127.0.0.1:5000", "Kapu <no-reply@ugyfel.example.hu>", "ugyfel.example.hu"),
        ("http://[::1]:5000", "no-reply@localhost", "localhost"),
    ],
)
def test_message_ids_use_the_sites_domain(base_url, mail_from, domain):
    assert mail_domain(base_url, mail_from) == domain


def test_a_registration_mail_carries_the_base_urls_domain(make_app):
    app = make_app(KAPU_BASE_URL="https://kapu.example.hu")
    with app.test_request_context():
        registration.register(
            app.extensions["kapu"],
            username="kovacs.janos",
            full_name="Kovács János",
            email="janos@example.hu",
            language="en",
            channel="online",
        )
        assert re.fullmatch(r"<[0-9a-f]{32}@kapu\.example\.hu>", OutboxMessage.get().message_id)
