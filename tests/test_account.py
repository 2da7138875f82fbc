"""Registration data: the e-mail change (confirmed by link, old address told) and the password change."""

import re

import pytest

from domain import outbox
from models import Account
from tests.conftest import STRONG_PASSWORD, csrf_token

NEW_PASSWORD = "hegyi patak mellett zöld moha"


@pytest.fixture
def active(client, csrf, registered, mailbox):
    client.post("/activate", data={"csrf_token": csrf(), "username": "kovacs.janos", "code": mailbox.last_code(),
                                   "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD})
    return registered.account


def log_in(client, password=STRONG_PASSWORD):
    return client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "username": "kovacs.janos",
                                       "password": password})


def account_email(app):
    with app.app_context():
        return Account.get(Account.username == "kovacs.janos").email


def request_change(client, email="new@example.hu", password=STRONG_PASSWORD):
    return client.post("/account/email", data={"csrf_token": csrf_token(client, "/account"), "email": email,
                                               "password": password})


def confirm_link(mailbox, recipient="new@example.hu"):
    return re.search(r"http://kapu\.test(/account/email/confirm/\S+)", mailbox.last_text(recipient)).group(1)


def test_registration_data_needs_login_and_masks_the_address(client, active):
    assert client.get("/account").status_code == 303
    log_in(client)
    page = client.get("/account").get_data(as_text=True)
    assert "kovacs.janos" in page and "Kovács János" in page
    assert "j***@example.hu" in page and "janos@example.hu" not in page


def test_email_change_takes_effect_only_after_confirmation(app, client, active, mailbox):
    log_in(client)
    response = request_change(client)
    assert response.status_code == 303
    assert "new@example.hu" in client.get("/account").get_data(as_text=True)
    assert "new@example.hu" not in client.get("/account").get_data(as_text=True)  # said once
    assert account_email(app) == "janos@example.hu"
    link = confirm_link(mailbox)
    other = app.test_client()  # the link may be opened anywhere, e.g. on a phone
    for _ in range(2):
        page = other.get(link)
        assert page.status_code == 200 and 'type="submit"' in page.get_data(as_text=True)
    assert account_email(app) == "janos@example.hu"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    confirmed = other.post(link, data={"csrf_token": token})
    assert confirmed.status_code == 303
    assert account_email(app) == "new@example.hu"
    message, text = mailbox.messages("janos@example.hu")[-1]
    assert message.kind == "email_changed_notice" and "n***@example.hu" in text
    assert other.post(link, data={"csrf_token": token}).status_code == 409


def test_an_unconfirmed_change_changes_nothing_and_a_newer_request_kills_the_older_link(app, client, active,
                                                                                       mailbox):
    log_in(client)
    request_change(client, "first@example.hu")
    first_link = confirm_link(mailbox, "first@example.hu")
    request_change(client, "second@example.hu")
    assert client.get(first_link).status_code == 409
    assert account_email(app) == "janos@example.hu"
    assert [m.kind for m, _ in mailbox.messages("janos@example.hu")] == ["activation_code"]


def test_email_change_needs_the_current_password(app, client, active, mailbox):
    log_in(client)
    response = request_change(client, password="wrong password here")
    assert response.status_code == 422 and "current password is wrong" in response.get_data(as_text=True)
    assert mailbox.messages("new@example.hu") == []


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 600])
def test_broken_confirmation_links_are_refused(client, token):
    assert client.get(f"/account/email/confirm/{token}").status_code == 400


def test_password_change_ends_every_other_session(app, client, active):
    log_in(client)
    phone = app.test_client()
    log_in(phone)
    assert phone.get("/account").status_code == 200
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account"), "change-current_password": STRONG_PASSWORD,
        "change-password": NEW_PASSWORD, "change-password_confirm": NEW_PASSWORD})
    assert response.status_code == 303 and "has been changed" in client.get("/account").get_data(as_text=True)
    assert client.get("/account").status_code == 200
    assert phone.get("/account").status_code == 303
    assert log_in(app.test_client(), NEW_PASSWORD).status_code == 303
    assert log_in(app.test_client(), STRONG_PASSWORD).status_code == 401


def test_password_change_applies_the_same_rules(client, active):
    log_in(client)
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account"), "change-current_password": STRONG_PASSWORD,
        "change-password": "kovacs.janos!!", "change-password_confirm": "kovacs.janos!!"})
    assert response.status_code == 422 and "from your username" in response.get_data(as_text=True)
    check = client.post("/account/check/password", data={"change-password": "short"},
                        headers={"X-CSRFToken": csrf_token(client, "/account")})
    assert "at least 15 characters" in check.get_data(as_text=True)


def test_the_identification_address_only_gets_identification_mail(app, kapu, active):
    with app.app_context(), pytest.raises(outbox.MailNotAllowed):
        outbox.enqueue(kapu, "newsletter", "janos@example.hu", "News", "text", "")
    with app.app_context():
        assert outbox.enqueue(kapu, "newsletter", "someone@example.hu", "News", "text", "").kind == "newsletter"


def test_every_id_on_the_registration_data_page_is_unique(client, active):
    log_in(client)
    ids = re.findall(r'\sid="([^"]+)"', client.get("/account").get_data(as_text=True))
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "change-password-error" in ids and "password-error" in ids
