"""The activation journey through the test client: every outcome a citizen can meet."""

import re

import pytest

from models import Account, AuditEvent, OneTimeCode
from tests.support.helpers import STRONG_PASSWORD, USERNAME


def account(app):
    with app.app_context():
        return Account.get(Account.username == USERNAME)


def fields_in_order(html):
    return re.findall(r'<input[^>]* name="(username|code|password|password_confirm)"', html)


def test_the_link_fills_in_the_code_and_shows_the_deadline(client, registered, mailbox):
    response = client.get(mailbox.last_link(), follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.request.path == "/activate"
    assert fields_in_order(html) == ["username", "code", "password", "password_confirm"]
    assert f'value="{mailbox.last_code()}"' in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", html)
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_plain_form_is_the_same_form_empty(client):
    html = client.get("/activate").get_data(as_text=True)
    assert fields_in_order(html) == ["username", "code", "password", "password_confirm"]
    assert 'autocomplete="one-time-code"' in html and 'autocomplete="new-password"' in html
    assert 'inputmode="text"' in html
    for name in ("username", "code", "password", "password_confirm"):
        assert f'<label for="{name}">' in html


def test_opening_the_link_many_times_consumes_nothing(client, app, registered, mailbox, auth):
    link = mailbox.last_link()
    for _ in range(3):
        assert client.get(link).status_code == 303
        assert client.head(link).status_code == 303
    assert account(app).status == "pending"
    assert auth.activate().status_code == 200


def test_successful_activation_opens_the_account_and_voids_the_code(client, app, registered, mailbox, auth):
    code = mailbox.last_code()
    response = auth.activate(username="KOVACS.JANOS", code=code.lower().replace("-", " "))
    assert response.status_code == 200
    assert 'href="/login"' in response.get_data(as_text=True)
    opened = account(app)
    assert opened.status == "active"
    assert opened.password_hash.startswith("$argon2id$")
    with app.app_context():
        assert OneTimeCode.get(OneTimeCode.account == opened.id).used_at is not None
    again = auth.activate(code=code)
    assert again.status_code == 409
    assert client.get(mailbox.last_link()).status_code == 409


def test_login_works_with_the_new_password(client, active, auth):
    response = auth.login()
    assert response.status_code == 303 and response.headers["Location"].endswith("/account")
    page = client.get("/account").get_data(as_text=True)
    assert "Kovács János" in page and "j***@example.hu" in page


@pytest.mark.parametrize("username, code_of", [("nobody.here", "real"), (USERNAME, "wrong")])
def test_unknown_username_and_wrong_code_get_one_answer(app, registered, mailbox, auth, username, code_of):
    code = mailbox.last_code() if code_of == "real" else "ABCDE-23456"
    response = auth.activate(username=username, code=code)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The username or the one-time code is wrong" in html
    assert f'value="{username}"' in html and f'value="{code}"' in html
    assert STRONG_PASSWORD not in html
    assert account(app).status == "pending"


def test_expired_code_points_to_forgotten_password(app, registered, mailbox, auth, frozen_clock):
    frozen_clock.advance(seconds=259200 + 1)
    response = auth.activate()
    assert response.status_code == 410
    assert 'href="/forgotten-password"' in response.get_data(as_text=True)
    assert account(app).status == "pending"


def test_expired_link_points_to_forgotten_password(client, registered, mailbox, frozen_clock):
    frozen_clock.advance(days=3, seconds=1)
    response = client.get(mailbox.last_link())
    assert response.status_code == 410
    assert 'href="/forgotten-password"' in response.get_data(as_text=True)


def test_short_ttl_from_configuration(make_app):
    assert make_app(KAPU_CODE_TTL=60).extensions["kapu"].code_ttl == 60


def test_the_code_is_void_after_max_attempts(app, registered, mailbox, auth):
    for _ in range(5):
        assert auth.activate(code="ABCDE-23456").status_code == 400
    response = auth.activate()
    assert response.status_code == 429
    assert 'href="/forgotten-password"' in response.get_data(as_text=True)
    assert account(app).status == "pending"
    with app.app_context():
        kinds = [e.outcome for e in AuditEvent.select().where(AuditEvent.kind == "activation")]
    assert kinds.count("wrong_code") == 4 and kinds.count("code_voided") == 1


def test_a_newer_code_voids_the_older_one(app, services, registered, mailbox, auth):
    from domain import issuing

    old_code, old_link = mailbox.last_code(), mailbox.last_link()
    with app.test_request_context():
        issuing.issue_code(services, account(app), "reset")
    assert auth.activate(code=old_code).status_code == 409
    assert app.test_client().get(old_link).status_code == 409
    assert auth.activate().status_code == 200


@pytest.mark.parametrize(
    "password, confirm, field, message",
    [
        ("short pass", "short pass", "password", "at least 15 characters"),
        ("password1234", "password1234", "password", "too common"),
        ("kovacs.janos 1999!", "kovacs.janos 1999!", "password", "from your username"),
        (STRONG_PASSWORD, STRONG_PASSWORD + "x", "password_confirm", "do not match"),
        ("", "", "password", "Choose a new password"),
    ],
)
def test_password_rules_refuse_and_keep_what_was_typed(
    app, registered, mailbox, auth, password, confirm, field, message
):
    response = auth.activate(password=password, confirm=confirm)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'class="error-summary"' in html
    assert re.search(rf'<input[^>]*aria-describedby="[^"]*{field}-error"[^>]*aria-invalid="true"', html) or re.search(
        rf'<input[^>]*aria-invalid="true"[^>]*name="{field}"', html
    )
    assert f'value="{USERNAME}"' in html and f'value="{mailbox.last_code()}"' in html
    if password:
        assert password not in html
    assert account(app).status == "pending"


def test_minimum_length_boundary(client, app, registered, mailbox, auth):
    min_minus_one, minimum = "mzqktvwrpxabyu", "mzqktvwrpxabyuf"  # 14 and 15 characters
    assert auth.activate(password=min_minus_one).status_code == 422
    assert auth.activate(password=minimum).status_code == 200


@pytest.mark.parametrize("length", [64, 128])
def test_long_passwords_activate_and_log_in(registered, auth, length):
    phrase = ("árvíztűrő tükörfúrógép " * 10)[:length]
    assert auth.activate(password=phrase).status_code == 200
    response = auth.login(password=phrase)
    assert response.status_code == 303


def test_tampered_link_is_a_400_with_the_empty_form(client, registered, mailbox):
    link = mailbox.last_link()
    for bad in (link[:-4], link[: len("/activate/") + 12], link + "x"):
        response = client.get(bad)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert fields_in_order(html) == ["username", "code", "password", "password_confirm"]
        assert 'name="code" required spellcheck="false" type="text" value=""' in html


def test_a_post_without_csrf_token_changes_nothing(client, app, registered, mailbox):
    response = client.post(
        "/activate",
        data={
            "username": USERNAME,
            "code": mailbox.last_code(),
            "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert account(app).status == "pending"


def test_activation_events_are_audited_without_secrets(app, registered, mailbox, auth, client):
    client.get(mailbox.last_link(), follow_redirects=True)
    auth.activate(code="ABCDE-23456")
    auth.activate()
    with app.app_context():
        events = [(e.kind, e.outcome) for e in AuditEvent.select().order_by(AuditEvent.id)]
        dumped = " ".join(str(e.__data__) for e in AuditEvent.select())
    assert ("registration", "created") in events and ("code_issued", "activation") in events
    assert ("link_opened", "valid") in events and ("activation", "wrong_code") in events
    assert ("activation", "success") in events
    assert mailbox.last_code().replace("-", "") not in dumped and STRONG_PASSWORD not in dumped


@pytest.mark.sqlite_only
def test_the_database_never_holds_the_code(app, registered, mailbox, tmp_path):
    code = mailbox.last_code().replace("-", "")
    with app.app_context():
        app.extensions["kapu_database"].execute_sql("PRAGMA wal_checkpoint(FULL)")
    raw = (tmp_path / "kapu.db").read_bytes()
    assert code.encode() not in raw
    assert mailbox.last_code().encode() not in raw
