"""The registration desk: roles enforced on the server, in-person registration, re-issue, cancel, audit."""

import re

import pytest

from models import Account, AuditEvent
from tests.smtp_server import SmtpServer
from tests.support.helpers import STAFF_PASSWORD, Auth, add_staff, csrf_token


@pytest.fixture
def clerk(auth):
    return auth.staff_login("clerk.bp", "clerk", office="BP-V-OKM")


@pytest.fixture
def other_clerk(auth):
    return auth.staff_login("clerk.deb", "clerk", office="NAV-DEB")


@pytest.fixture
def admin(auth):
    return auth.staff_login("admin.one", "admin")


def desk_register(client, username="toth.pal", email="pal@example.hu"):
    return client.post(
        "/desk/register",
        data={"csrf_token": csrf_token(client), "username": username, "full_name": "Tóth Pál", "email": email},
    )


def test_staff_land_on_the_desk_after_login(app, auth):
    add_staff(app, "clerk.bp", "clerk", office="BP-V-OKM")
    response = auth.login("clerk.bp", STAFF_PASSWORD)
    assert response.headers["Location"].endswith("/desk")


@pytest.mark.parametrize("path", ["/desk", "/desk/audit", "/desk/notices", "/desk/help"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


@pytest.mark.parametrize("path", ["/desk", "/desk/audit", "/desk/notices"])
def test_a_citizen_cannot_reach_the_desk(client, logged_in, path):
    assert client.get(path).status_code == 403


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/desk/audit"),
        ("get", "/desk/notices"),
        ("post", "/desk/notices"),
        ("get", "/desk/help"),
        ("get", "/desk/help/activation"),
        ("post", "/desk/help/activation"),
        ("post", "/desk/notices/1/end"),
    ],
)
def test_a_clerk_cannot_manage_notices_articles_or_read_the_audit_log(clerk, method, path):
    kwargs = {"headers": {"X-CSRFToken": csrf_token(clerk)}} if method == "post" else {}
    assert getattr(clerk, method)(path, **kwargs).status_code == 403


def test_a_clerk_registers_a_citizen_in_person(app, clerk, mailbox):
    response = desk_register(clerk)
    assert response.status_code == 200 and "pal@example.hu" in response.get_data(as_text=True)
    with app.app_context():
        account = Account.get(Account.username == "toth.pal")
        assert (account.status, account.office, account.channel) == ("pending", "BP-V-OKM", "office")
        event = AuditEvent.get(AuditEvent.kind == "registration", AuditEvent.outcome == "created")
        assert event.actor == "clerk.bp"
    code = mailbox.last_code("pal@example.hu")
    assert code not in clerk.get("/desk").get_data(as_text=True)
    assert "toth.pal" in clerk.get("/desk").get_data(as_text=True)


def test_desk_registration_delivers_over_smtp(make_app):
    server = SmtpServer().start()
    try:
        app = make_app(KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=server.port)
        desk_register(Auth.of(app).staff_login("clerk.bp", "clerk", office="BP-V-OKM"))
        app.test_cli_runner().invoke(args=["send-mail", "--once"])
        assert [m["to"] for m in server.received] == [["pal@example.hu"]]
    finally:
        server.stop()


def test_the_live_availability_check_is_for_staff_only_and_logged(app, client, clerk, registered):
    token = csrf_token(clerk)
    taken = clerk.post("/desk/check/username", data={"username": "KOVACS.janos"}, headers={"X-CSRFToken": token})
    free = clerk.post("/desk/check/username", data={"username": "free.user"}, headers={"X-CSRFToken": token})
    assert "taken" in taken.get_data(as_text=True) and free.get_data(as_text=True).strip() == ""
    outsider = client.post(
        "/desk/check/username", data={"username": "kovacs.janos"}, headers={"X-CSRFToken": csrf_token(client)}
    )
    assert outsider.status_code == 303
    with app.app_context():
        checks = list(AuditEvent.select().where(AuditEvent.kind == "username_check"))
    assert [(c.actor, c.outcome) for c in checks] == [("clerk.bp", "taken"), ("clerk.bp", "free")]


def pending_id(app, username):
    with app.app_context():
        return Account.get(Account.username == username).id


def test_reissue_sends_a_new_code_and_voids_the_old_one(app, auth, clerk, registered, mailbox):
    old_code = mailbox.last_code("janos@example.hu")
    account_id = pending_id(app, "kovacs.janos")
    response = clerk.post(
        f"/desk/registrations/{account_id}/reissue",
        data={"csrf_token": csrf_token(clerk), "reason": "lost the mail"},
    )
    assert response.status_code == 200
    assert mailbox.last_code("janos@example.hu") != old_code
    assert mailbox.last_code("janos@example.hu") not in response.get_data(as_text=True)
    assert auth.activate(old_code).status_code == 409
    with app.app_context():
        event = AuditEvent.get(AuditEvent.kind == "desk_reissue")
        assert (event.actor, event.detail) == ("clerk.bp", "lost the mail")


def test_reissue_and_cancel_need_a_reason(app, clerk, registered):
    account_id = pending_id(app, "kovacs.janos")
    for action in ("reissue", "cancel"):
        response = clerk.post(
            f"/desk/registrations/{account_id}/{action}", data={"csrf_token": csrf_token(clerk), "reason": ""}
        )
        assert response.status_code == 422


def test_cancel_removes_the_pending_registration_and_keeps_the_audit(app, clerk, registered, mailbox):
    account_id = pending_id(app, "kovacs.janos")
    response = clerk.post(
        f"/desk/registrations/{account_id}/cancel",
        data={"csrf_token": csrf_token(clerk), "reason": "duplicate"},
    )
    assert response.status_code == 200
    with app.app_context():
        assert Account.get_or_none(Account.username == "kovacs.janos") is None
        event = AuditEvent.get(AuditEvent.kind == "desk_cancel")
        assert (event.username, event.actor, event.detail) == ("kovacs.janos", "clerk.bp", "duplicate")


def test_a_clerk_cannot_see_or_touch_another_offices_registrations(app, other_clerk, registered):
    assert "kovacs.janos" not in other_clerk.get("/desk").get_data(as_text=True)
    account_id = pending_id(app, "kovacs.janos")
    for action in ("reissue", "cancel"):
        response = other_clerk.post(
            f"/desk/registrations/{account_id}/{action}",
            data={"csrf_token": csrf_token(other_clerk), "reason": "x"},
        )
        assert response.status_code == 404
    with app.app_context():
        assert Account.get(Account.id == account_id).status == "pending"


def test_an_admin_sees_every_office_and_the_audit_log(app, admin, registered, clerk):
    desk_register(clerk)
    page = admin.get("/desk").get_data(as_text=True)
    assert "kovacs.janos" in page and "toth.pal" in page
    log = admin.get("/desk/audit?username=toth.pal").get_data(as_text=True)
    assert "registration" in log and "clerk.bp" in log and "kovacs.janos" not in log
    by_kind = admin.get("/desk/audit?kind=desk_cancel").get_data(as_text=True)
    assert "0 events" in by_kind


def test_the_audit_log_is_paginated_and_filters_by_date(app, admin, frozen_clock):
    from domain import audit

    with app.app_context():
        for i in range(120):
            audit.record("test_event", "ok", username=f"user{i}")
    first = admin.get("/desk/audit?kind=test_event").get_data(as_text=True)
    assert "120 events" in first and "Page 1 of 3" in first
    third = admin.get("/desk/audit?kind=test_event&page=3").get_data(as_text=True)
    assert len(re.findall(r"<td>test_event</td>", third)) == 20
    assert "0 events" in admin.get("/desk/audit?kind=test_event&date_to=2000-01-01").get_data(as_text=True)
    assert admin.get("/desk/audit?date_from=not-a-date").status_code == 400
