"""What tests share: the people and passwords they use, a CSRF token reader, the mailbox, the clock, `Auth`
(activate, log in, log out, staff log in) behind the `auth` fixture, and parallel requests (`in_parallel`). Fixtures
live in tests/conftest.py."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from flask.ctx import RequestContext
from flask_wtf.csrf import generate_csrf
from werkzeug.test import EnvironBuilder

import models
from domain import clock, desk, outbox, registration
from models import Account, OutboxMessage

ROOT = Path(__file__).resolve().parents[2]

# Cheap argon2id parameters keep the suite fast; production uses argon2-cffi's RFC 9106 profile.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SECRET_KEY = "test-secret-key-that-is-long-enough"
BASE_URL = "http://kapu.test"

# The `registered` fixture's citizen: a pending account made at an office.
USERNAME = "kovacs.janos"
FULL_NAME = "Kovács János"
EMAIL = "janos@example.hu"
OFFICE = "BP-V-OKM"
STRONG_PASSWORD = "kerekes kút mellett áll a nyírfa"
NEW_PASSWORD = "hegyi patak mellett zöld moha"
STAFF_PASSWORD = "asztal mögött ül a hivatalnok"

PARALLEL = 8  # threads in the parallel tests: more than the hashing slots, the workers and the per-client limits


def missing(message):
    """A server the tests need is not installed: the test skips on a developer's machine, fails under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def csrf_token(client, path=None):
    """The CSRF token of *client*'s session: read from the form on *path* as a browser would, or, with no path,
    made by Flask-WTF as any form would make it (its secret stored in the client's session cookie), without
    drawing a page: a first page costs an app about 8 ms, and the login and activation helpers need one each."""
    if path is not None:
        page = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    app, environ = client.application, EnvironBuilder().get_environ()
    with client.session_transaction() as session, RequestContext(app, environ, session=session):
        return generate_csrf()


def tampered_signature(token):
    """*token* (any itsdangerous token) with one byte of its signature changed. Not its last characters: the final
    base64 character carries padding bits, so changing it can leave the decoded signature, and the token, valid."""
    signed, signature = token.rsplit(".", 1)
    return f"{signed}.{signature[:5]}{'B' if signature[5] == 'A' else 'A'}{signature[6:]}"


def register_citizen(
    app, username=USERNAME, email=EMAIL, language="hu", channel="online", office=None, full_name=FULL_NAME
):
    """A pending registration made through the domain (as the online form, or a clerk with *office*, makes it)."""
    with app.test_request_context():
        return registration.register(
            app.extensions["kapu"],
            username=username,
            full_name=full_name,
            email=email,
            language=language,
            channel=channel,
            office=office,
        )


def add_staff(app, username, role, office=None):
    with app.app_context():
        return desk.add_staff(
            app.extensions["kapu"], username=username, role=role, password=STAFF_PASSWORD, office=office
        )


class Auth:
    """The ways in and out, as a browser posts them; each returns the response (staff_login: the new client)."""

    def __init__(self, app, client, mailbox):
        self.app, self.client, self.mailbox = app, client, mailbox

    @classmethod
    def of(cls, app):
        """For an app built apart from the `app` fixture (make_app)."""
        return cls(app, app.test_client(), Mailbox(app))

    def activate(self, code=None, username=USERNAME, password=STRONG_PASSWORD, confirm=None, client=None):
        """Activate with *code* (default: the last one mailed) and *password* (confirmed unless *confirm*)."""
        client = client or self.client
        return client.post(
            "/activate",
            data={
                "csrf_token": csrf_token(client),
                "username": username,
                "code": self.mailbox.last_code() if code is None else code,
                "password": password,
                "password_confirm": password if confirm is None else confirm,
            },
        )

    def login(self, username=USERNAME, password=STRONG_PASSWORD, client=None):
        client = client or self.client
        return client.post(
            "/login", data={"csrf_token": csrf_token(client), "username": username, "password": password}
        )

    def logout(self, client=None):
        client = client or self.client
        return client.post("/logout", data={"csrf_token": csrf_token(client)})

    def change_password(self, new=NEW_PASSWORD, current=STRONG_PASSWORD, confirm=None, client=None):
        """Change the logged-in account's password on /account (confirmed unless *confirm*)."""
        client = client or self.client
        return client.post(
            "/account/password",
            data={
                "csrf_token": csrf_token(client),
                "change-current_password": current,
                "change-password": new,
                "change-password_confirm": new if confirm is None else confirm,
            },
        )

    def staff_login(self, username, role="admin", office=None):
        """Add a staff member and return a new client logged in as them (at the desk)."""
        add_staff(self.app, username, role, office=office)
        client = self.app.test_client()
        response = self.login(username, STAFF_PASSWORD, client=client)
        assert response.status_code == 303, response.get_data(as_text=True)
        return client


def spy_on_shortcut(monkeypatch, shortcut_class):
    """Whether *shortcut_class* (shortcuts.py) answered each request it was asked (True) or left it to Flask
    (False), in order."""
    answered = []
    real = shortcut_class.answer

    def spy(self, environ):
        answer = real(self, environ)
        answered.append(answer is not None)
        return answer

    monkeypatch.setattr(shortcut_class, "answer", spy)
    return answered


def leave_to_flask(monkeypatch, shortcut_class):
    """From now on *shortcut_class* answers nothing: Flask answers every request, for comparison."""
    monkeypatch.setattr(shortcut_class, "answer", lambda self, environ: None)


class FrozenClock:
    """Moves domain time forward without sleeping."""

    def __init__(self, monkeypatch):
        self.offset = timedelta()
        real_now = clock.now
        monkeypatch.setattr(clock, "now", lambda: real_now() + self.offset)

    def advance(self, **kwargs):
        self.offset += timedelta(**kwargs)


class Mailbox:
    """Reads the outbox the way a citizen reads their mail (the sealed bodies, opened)."""

    def __init__(self, app, base_url=BASE_URL):
        self.app = app
        self.base_url = base_url

    def messages(self, recipient=None):
        with self.app.app_context():
            query = OutboxMessage.select().order_by(OutboxMessage.id)
            if recipient:
                query = query.where(OutboxMessage.recipient == recipient)
            services = self.app.extensions["kapu"]
            return [(m, outbox.unseal(services, m)["text"]) for m in query]

    def last_text(self, recipient=None):
        return self.messages(recipient)[-1][1]

    def last_code(self, recipient=None):
        return re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b", self.last_text(recipient)).group(1)

    def last_link(self, recipient=None, path="/activate/"):
        """The path of the last link to *path* (default: the activation link) in the mail."""
        return re.search(re.escape(self.base_url) + rf"({re.escape(path)}\S+)", self.last_text(recipient)).group(1)


# A database file as release b8083a0 left it (tests/fixtures/README.md says how it was made).
RELEASED_DUMP = ROOT / "tests" / "fixtures" / "b8083a0.sql"
RELEASED_KEY = "kapu-b8083a0-fixture-secret-key"
RELEASED_CODE = "FK3EG-NAKET"


def released_database(path):
    """A database file as b8083a0 left it: a pending account whose code was mailed."""
    with sqlite3.connect(path) as connection:
        connection.executescript(RELEASED_DUMP.read_text(encoding="utf-8"))
    return path


def open_sqlite(path):
    return models.open_database(f"sqlite:///{path}")


def metric_sample(text, name, **labels):
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


MAIL_CODE = "7KM4-XH9P-3RTC"  # a code as mailed: three groups of four


def mail_context(kind):
    """What the domain hands mail.compose() for each kind of mail (values shaped like the real ones)."""
    account = SimpleNamespace(full_name="Teszt Elek", display_username="teszt.elek")
    deadline = datetime(2026, 11, 28, 13, 2)
    return {
        "activation_code": {
            "account": account,
            "code": MAIL_CODE,
            "deadline": deadline,
            "link": "http://kapu.test/activate/l/abc123",
        },
        "reset_code": {
            "account": account,
            "code": MAIL_CODE,
            "deadline": deadline,
            "link": "http://kapu.test/activate/l/def456",
        },
        "username_taken": {"register_url": "http://kapu.test/register"},
        "email_change_confirm": {"account": account, "link": "http://kapu.test/account/email/confirm/xyz"},
        "email_changed_notice": {"account": account, "new_email_masked": "u***@pelda.hu"},
        "email_change_requested": {
            "account": account,
            "new_email_masked": "u***@pelda.hu",
            "cancel_link": "http://kapu.test/account/email/cancel/xyz",
            "forgotten_url": "http://kapu.test/forgotten-password",
        },
    }[kind]


# Bad input: a request must get its 4xx (never a 500) and leave the database as it was.
ANY_4XX = range(400, 500)
NOT_5XX = range(200, 500)
# The rate limits out of the way (the maxima config.py accepts): bad-input tests send hundreds of posts from one
# address, and a 429 would hide the answer the input itself gets (tests/test_limits.py covers the limits).
NO_LIMITS = {
    "KAPU_CLIENT_POSTS_PER_MINUTE": 100000,
    "KAPU_CLIENT_WRONG_CODES_PER_HOUR": 100000,
    "KAPU_CLIENT_MAILS_PER_HOUR": 100000,
    "KAPU_LOGIN_MAX_FAILURES": 100,
    "KAPU_CODE_MAX_ATTEMPTS": 1000,  # else the fifth wrong code voids the live code: a change, but no bug
}


# What a refused request must leave alone, read in plain SQL: `answers` reads it before and after each request,
# and building these through peewee cost about as much as the refused request itself.
CORE_STATE = {
    "accounts": "SELECT id, username, full_name, email, status, password_hash, session_version "
    "FROM account ORDER BY id",
    "codes": "SELECT id, used_at, voided_at FROM one_time_code ORDER BY id",
    "outbox": "SELECT COUNT(*) FROM outbox_message",
}
STRICT_STATE = {
    **CORE_STATE,
    "attempts": "SELECT failed_attempts FROM one_time_code ORDER BY id",
    "audit": "SELECT COUNT(*) FROM audit_event WHERE kind <> 'csrf'",
}


def _read_state(app, statements):
    with app.app_context():
        database = app.extensions["kapu_database"]
        return {name: [tuple(row) for row in database.execute_sql(sql).fetchall()] for name, sql in statements.items()}


def snapshot(app):
    """What a refused request must leave alone: accounts, codes and the outbox."""
    return _read_state(app, CORE_STATE)


def strict_snapshot(app):
    """The above plus wrong-code counters and the audit trail, for requests refused before any work (a CSRF
    refusal's own audit event is the one entry such a request may add: every refusal is audited)."""
    return _read_state(app, STRICT_STATE)


def account_status(app, username=USERNAME):
    with app.app_context():
        return Account.get(Account.username == username).status


def answers(app, client, method, path, expected=ANY_4XX, *, html=True, unchanged=None, **request):
    """Send one request and assert its answer: a status in *expected* (an int or a collection), an HTML page
    (unless html=False or a redirect), and the database as before when *unchanged* is "core" (snapshot) or
    "strict" (strict_snapshot). With TESTING on, what would be a 500 propagates here as the view's exception."""
    take = {"core": snapshot, "strict": strict_snapshot}.get(unchanged)
    before = take(app) if take else None
    response = client.open(path, method=method, **request)
    wanted = (expected,) if isinstance(expected, int) else expected
    assert response.status_code in wanted, response.get_data(as_text=True)[:300]
    if html and method != "HEAD" and response.status_code not in (301, 302, 303, 307, 308):
        assert response.mimetype == "text/html"
    if take:
        assert take(app) == before, "the database changed"
    return response


def in_parallel(app, work, count=PARALLEL):
    """Run work(i, client, barrier) in *count* threads, as requests in several workers would run: each thread has
    its own test client and database connection; *barrier* (for all of them) lines the threads up where the work
    says. Their results in order; the first exception fails the test, none hangs it."""
    barrier = threading.Barrier(count, timeout=30)
    results, errors = [None] * count, []

    def run(i):
        try:
            results[i] = work(i, app.test_client(), barrier)
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)
            barrier.abort()
        finally:
            app.extensions["kapu_database"].close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a parallel request hung"
    if errors:
        raise errors[0]
    return results


def at_once(work):
    """For in_parallel: every thread runs work(i) at the same moment, in an app context of its own (the domain's
    functions need one; a request made inside it would share its `g`, so requests go through the client)."""

    def run(i, client, barrier):
        barrier.wait()
        with client.application.app_context():
            return work(i)

    return run
