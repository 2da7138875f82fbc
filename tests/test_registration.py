"""Online registration: a pending account and a code by mail, with the same answer for a taken name."""

import re

import pytest

from models import Account, OutboxMessage


def register(client, csrf, username="nagy.eva", full_name="Nagy Éva", email="eva@example.hu"):
    return client.post(
        "/register",
        data={"csrf_token": csrf("/register"), "username": username, "full_name": full_name, "email": email},
    )


def test_online_registration_creates_a_pending_account_and_mails_the_code(client, app, csrf, mailbox):
    response = register(client, csrf)
    assert response.status_code == 200
    assert "eva@example.hu" in response.get_data(as_text=True)
    with app.app_context():
        account = Account.get(Account.username == "nagy.eva")
        assert account.status == "pending" and account.channel == "online"
    assert mailbox.messages("eva@example.hu")[0][0].kind == "activation_code"
    assert client.get(mailbox.last_link(), follow_redirects=True).status_code == 200


def without_csrf(html):
    return re.sub(r'"X-CSRFToken": ?"[^"]*"', '"X-CSRFToken": ""', html)


def test_a_taken_username_gets_the_same_page_and_a_mail_instead(client, app, csrf, mailbox, registered):
    first = register(client, csrf, username="other.user", email="x@example.hu").get_data(as_text=True)
    taken = register(client, csrf, username="KOVACS.JANOS", email="y@example.hu")
    assert taken.status_code == 200
    # (the CSRF token in the page holds a timestamp: two pages a second apart differ there only)
    assert without_csrf(taken.get_data(as_text=True).replace("y@example.hu", "x@example.hu")) == without_csrf(first)
    assert mailbox.messages("y@example.hu")[0][0].kind == "username_taken"
    with app.app_context():
        assert Account.select().count() == 2


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("username", "ab", "3 to 64 letters"),
        ("username", "bad name", "3 to 64 letters"),
        ("username", "x" * 65, "at most 64"),
        ("full_name", "Nagy\x00Éva", "control characters"),
        ("full_name", "", "Enter your full name"),
        ("email", "not-an-address", "like name@example.hu"),
        ("email", "a@" + "b" * 260 + ".hu", "at most 254"),
    ],
)
def test_bad_registration_input_is_refused_with_a_message(client, app, csrf, field, value, message):
    data = {"username": "nagy.eva", "full_name": "Nagy Éva", "email": "eva@example.hu", field: value}
    response = register(client, csrf, **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert Account.select().count() == 0 and OutboxMessage.select().count() == 0


def test_usernames_are_unicode_normalised_and_case_insensitive(client, app, csrf, mailbox):
    register(client, csrf, username="Ｋovács.Éva")  # full-width K folds to k
    register(client, csrf, username="kovács.éva", email="second@example.hu")
    with app.app_context():
        assert [a.username for a in Account.select()] == ["kovács.éva"]
    assert mailbox.messages("second@example.hu")[0][0].kind == "username_taken"


def test_live_email_check_uses_the_form_validator(client, csrf):
    token = csrf("/register")
    bad = client.post("/register/check/email", data={"email": "nope"}, headers={"X-CSRFToken": token})
    good = client.post("/register/check/email", data={"email": "a@example.hu"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 200 and "like name@example.hu" in bad.get_data(as_text=True)
    assert good.get_data(as_text=True).strip() == ""
