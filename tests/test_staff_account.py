"""Staff have no registration data: /account sends them to the desk, its forms refuse, recovery never serves them."""

import pytest

from models import Account, OneTimeCode, OutboxMessage
from tests.support.helpers import NEW_PASSWORD, STAFF_PASSWORD, add_staff, csrf_token


@pytest.fixture
def clerk(auth):
    return auth.staff_login("ugyintezo.anna", "clerk", office="BP-V-OKM")


def staff_row(app):
    with app.app_context():
        return Account.get(Account.username == "ugyintezo.anna")


def test_account_page_sends_staff_to_the_desk(clerk):
    response = clerk.get("/account")
    assert response.status_code == 303 and response.headers["Location"].endswith("/desk")


@pytest.mark.parametrize(
    "path, data",
    [
        ("/account/email", {"email": "anna@example.hu", "password": STAFF_PASSWORD}),
        ("/account/email", {"email": "not an address", "password": ""}),  # a form error: was a 500
        (
            "/account/password",
            {
                "change-current_password": STAFF_PASSWORD,
                "change-password": NEW_PASSWORD,
                "change-password_confirm": NEW_PASSWORD,
            },
        ),
        ("/account/password", {"change-current_password": "", "change-password": "x"}),  # a form error: was a 500
        ("/account/check/password", {"change-password": "x"}),
    ],
)
def test_the_account_forms_refuse_staff_and_change_nothing(app, clerk, path, data):
    before = staff_row(app)
    response = clerk.post(path, data={"csrf_token": csrf_token(clerk, "/desk"), **data})
    assert response.status_code == 403
    assert "Staff accounts have no registration data" in response.get_data(as_text=True)
    after = staff_row(app)
    assert after.email is None and after.password_hash == before.password_hash
    with app.app_context():
        assert OutboxMessage.select().count() == 0


def test_a_clerk_cannot_attach_an_address_and_then_recover(app, clerk):
    clerk.post(
        "/account/email",
        data={"csrf_token": csrf_token(clerk, "/desk"), "email": "anna@example.hu", "password": STAFF_PASSWORD},
    )
    anonymous = app.test_client()
    response = anonymous.post(
        "/forgotten-password",
        data={
            "csrf_token": csrf_token(anonymous, "/forgotten-password"),
            "username": "ugyintezo.anna",
            "email": "anna@example.hu",
        },
    )
    assert response.status_code == 200
    with app.app_context():
        assert OutboxMessage.select().count() == 0
        assert OneTimeCode.select().count() == 0


def test_codes_are_never_issued_to_staff(app, services):
    from domain import issuing

    add_staff(app, "admin.bela", "admin")
    with app.test_request_context(), pytest.raises(issuing.NoCodesForStaff):
        issuing.issue_code(services, Account.get(Account.username == "admin.bela"), "reset")
