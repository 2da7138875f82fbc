"""Sessions end on the server: new id on login, idle and absolute timeouts (citizens and staff), logout,
a copied cookie, and a new password that ends every other session."""

import pytest

from domain import issuing
from domain.auth import authenticate
from models import Account, LoginSession
from tests.support.helpers import NEW_PASSWORD, STRONG_PASSWORD, csrf_token


def copy_of(app, client):
    """Another browser holding a copy of *client*'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def session_rows(app):
    with app.app_context():
        return LoginSession.select().count()


def test_login_rotates_the_session_and_its_csrf_token(client, auth, active):
    before = csrf_token(client, "/login")
    assert auth.login().status_code == 303
    assert csrf_token(client, "/activate") != before
    assert client.get("/account").status_code == 200


def test_the_cookie_holds_only_an_opaque_id_and_the_database_only_its_hash(app, client, logged_in):
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    content = serializer.loads(client.get_cookie("session").value)
    assert set(content) <= {"sid", "csrf_token", "language"}
    with app.app_context():
        row = LoginSession.get()
    assert content["sid"] not in row.token_hash and len(row.token_hash) == 64


def test_logging_in_again_ends_the_earlier_session_of_that_browser(app, client, logged_in, auth):
    earlier = copy_of(app, client)
    assert auth.login().status_code == 303
    assert client.get_cookie("session").value != earlier.get_cookie("session").value
    assert earlier.get("/account").status_code == 303
    assert client.get("/account").status_code == 200
    assert session_rows(app) == 1


def test_logout_needs_csrf_and_ends_the_session(client, logged_in, auth):
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200
    auth.logout()
    assert client.get("/account").status_code == 303


def test_a_cookie_copied_before_logout_stops_working(app, client, logged_in, auth):
    thief = copy_of(app, client)
    assert thief.get("/account").status_code == 200
    auth.logout()
    assert thief.get("/account").status_code == 303
    assert session_rows(app) == 0


def test_the_language_choice_survives_login_and_logout(client, active, auth):
    client.get("/login?lang=hu")
    assert auth.login().status_code == 303
    assert 'lang="hu"' in client.get("/account").get_data(as_text=True)
    auth.logout()
    assert 'lang="hu"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("idle_minutes, still_in", [(29, True), (31, False)])
def test_citizen_idle_timeout(client, logged_in, frozen_clock, idle_minutes, still_in):
    frozen_clock.advance(minutes=idle_minutes)
    assert (client.get("/account").status_code == 200) is still_in


def test_citizen_absolute_timeout_even_when_active(client, logged_in, frozen_clock):
    statuses = []
    for _ in range(25):  # active every 29 minutes for over 12 hours
        frozen_clock.advance(minutes=29)
        statuses.append(client.get("/account").status_code)
    assert statuses[:24] == [200] * 24 and statuses[24] == 303


@pytest.mark.parametrize("idle_minutes, still_in", [(14, True), (16, False)])
def test_staff_idle_timeout_is_15_minutes(auth, frozen_clock, idle_minutes, still_in):
    desk = auth.staff_login("ugyintezo", "admin")
    frozen_clock.advance(minutes=idle_minutes)
    assert (desk.get("/desk").status_code == 200) is still_in


def test_staff_absolute_timeout_is_8_hours(auth, frozen_clock):
    desk = auth.staff_login("ugyintezo", "admin")
    statuses = []
    for _ in range(35):  # active every 14 minutes: 7 h 56 min, then 8 h 10 min
        frozen_clock.advance(minutes=14)
        statuses.append(desk.get("/desk").status_code)
    assert statuses[:34] == [200] * 34 and statuses[34] == 303


def test_a_timed_out_session_is_deleted_on_the_server(app, client, logged_in, frozen_clock):
    frozen_clock.advance(minutes=31)
    client.get("/account")
    assert session_rows(app) == 0


def test_a_password_change_ends_every_other_session_and_renews_this_one(app, client, logged_in, auth):
    phone, thief = app.test_client(), copy_of(app, client)
    assert auth.login(client=phone).status_code == 303
    response = auth.change_password()
    assert response.status_code == 303
    assert client.get("/account").status_code == 200
    assert phone.get("/account").status_code == 303
    assert thief.get("/account").status_code == 303  # the copied cookie held the id from before the change
    assert session_rows(app) == 1


def test_a_password_reset_ends_every_session(app, services, client, logged_in, mailbox, auth):
    phone = app.test_client()
    assert auth.login(client=phone).status_code == 303
    with app.test_request_context():
        issuing.issue_code(services, Account.get(Account.username == "kovacs.janos"), "reset")
    reset = auth.activate(password=NEW_PASSWORD, client=app.test_client())
    assert reset.status_code == 200
    assert client.get("/account").status_code == 303
    assert phone.get("/account").status_code == 303
    assert session_rows(app) == 0


def test_a_login_that_raced_a_password_change_gets_no_lasting_session(app, services, client, active):
    """A login verified against the old password, then the password changed before its session began."""
    from domain import sessions
    from domain.account import change_password

    with app.test_request_context():
        account = authenticate(services, "kovacs.janos", STRONG_PASSWORD)
        assert change_password(services, Account.get_by_id(account.id), NEW_PASSWORD) is not None
        token = sessions.start(account)
        assert sessions.resume(token) is None


def test_a_forged_or_oversized_session_id_is_just_logged_out(app, client, active):
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    for sid in ("nope", "x" * 5000, 12, None, ["a"]):
        client.set_cookie("session", serializer.dumps({"sid": sid}))
        assert client.get("/account").status_code == 303


def test_the_retention_purge_deletes_timed_out_sessions(app, client, logged_in, frozen_clock):
    from domain import retention

    frozen_clock.advance(hours=13)
    with app.app_context():
        counts = retention.purge(retention.Retention.from_config(app.config))
    assert counts["timed-out sessions"] == 1 and session_rows(app) == 0
