"""Forgotten password: recovery of active and expired-pending accounts; old codes void; no enumeration."""

import re

import pytest

from models import Account, OneTimeCode, OutboxMessage
from tests.support.helpers import NEW_PASSWORD


@pytest.fixture
def forgot(client, csrf):
    def post(username="kovacs.janos", email="janos@example.hu"):
        return client.post(
            "/forgotten-password",
            data={"csrf_token": csrf("/forgotten-password"), "username": username, "email": email},
        )

    return post


def test_an_expired_pending_account_is_recovered(app, registered, mailbox, forgot, auth, frozen_clock):
    first_code = mailbox.last_code()
    frozen_clock.advance(days=4)
    assert auth.activate(first_code, password=NEW_PASSWORD).status_code == 410
    assert forgot(email="JANOS@example.hu").status_code == 200
    message, _ = mailbox.messages("janos@example.hu")[-1]
    assert message.kind == "reset_code"
    assert auth.activate(mailbox.last_code(), password=NEW_PASSWORD).status_code == 200
    with app.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "active"


def test_an_active_account_gets_a_new_password_and_old_codes_die(client, active, mailbox, forgot, auth):
    forgot()
    older_code, older_link = mailbox.last_code(), mailbox.last_link()
    forgot()
    assert auth.activate(older_code, password=NEW_PASSWORD).status_code == 409
    assert client.get(older_link).status_code == 409
    assert auth.activate(mailbox.last_code(), password=NEW_PASSWORD).status_code == 200
    assert auth.login().status_code == 401
    assert auth.login(password=NEW_PASSWORD).status_code == 303


def strip_values(html):
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    # The CSRF token carries a timestamp in seconds: on a loaded machine two answers may straddle a second.
    html = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', html)
    return re.sub(r"\s+", " ", html)


def test_match_and_miss_answer_identically_and_the_miss_sends_nothing(app, registered, forgot):
    hit = forgot()
    miss = forgot(username="nobody.here", email="nobody@example.hu")
    wrong_pair = forgot(email="someone.else@example.hu")
    assert hit.status_code == miss.status_code == wrong_pair.status_code == 200
    assert strip_values(hit.get_data(as_text=True)) == strip_values(miss.get_data(as_text=True))
    assert strip_values(hit.get_data(as_text=True)) == strip_values(wrong_pair.get_data(as_text=True))
    with app.app_context():
        recipients = [m.recipient for m in OutboxMessage.select()]
    assert recipients == ["janos@example.hu", "janos@example.hu"]


@pytest.mark.slow  # a measurement: 120 interleaved requests
def test_match_and_misses_take_the_same_time(tmp_path):
    """Medians of interleaved runs (`bench/forgotten_password_timing.py` prints them with more runs)."""
    from bench.forgotten_password_timing import measure, report

    medians = measure(runs=40, data_dir=str(tmp_path))
    print(f"forgotten-password medians: {report(medians)}")
    assert (max(medians.values()) - min(medians.values())) / max(medians.values()) < 0.20, medians


class WorkLog:
    """What one forgotten-password request does: mails composed, bodies sealed, HMACs, SQL statements."""

    def __init__(self, monkeypatch, services):
        self.events = []
        compose, encrypt = services.compose, services.sealer.encrypt
        monkeypatch.setattr(services, "compose", lambda *a, **k: self._note("compose", compose(*a, **k)))
        monkeypatch.setattr(services.sealer, "encrypt", lambda data: self._note("seal", encrypt(data)))
        from domain import codes

        keyed_hash = codes.keyed_hash
        monkeypatch.setattr(codes, "keyed_hash", lambda *a: self._note("hmac", keyed_hash(*a)))
        database = kapu_database()
        execute_sql = database.execute_sql

        def logged(sql, params=None, *args, **kwargs):
            words = sql.replace('"', " ").split()
            table = next((w for w in words if w in TABLES), "-")
            self.events.append(f"sql {words[0].upper()} {table}")
            return execute_sql(sql, params, *args, **kwargs)

        monkeypatch.setattr(database, "execute_sql", logged)

    def _note(self, what, result):
        self.events.append(what)
        return result

    def take(self):
        events, self.events = self.events, []
        return events


TABLES = {"account", "one_time_code", "outbox_message", "audit_event"}


def kapu_database():
    from flask import current_app

    return current_app.extensions["kapu_database"]


@pytest.mark.parametrize(
    "username, email", [("nobody.here", "janos@example.hu"), ("kovacs.janos", "someone.else@example.hu")]
)
def test_a_miss_does_the_same_work_as_a_match(app, services, registered, monkeypatch, username, email):
    """The same compose, seal, HMAC and SQL work, in the same order (the miss's writes are rolled back)."""
    from domain import recovery

    with app.test_request_context():
        log = WorkLog(monkeypatch, services)
        assert recovery.request_new_code(services, "kovacs.janos", "janos@example.hu", "hu") is True
        match = log.take()
        assert recovery.request_new_code(services, username, email, "hu") is False
        miss = log.take()
    assert match.count("compose") == miss.count("compose") == 1
    assert match.count("seal") == miss.count("seal") >= 1
    assert match.count("hmac") == miss.count("hmac") >= 1

    # The miss differs only by its throw-away account row and the rollback that removes everything it wrote.
    assert miss.count("sql INSERT account") == 1 and miss.count("sql ROLLBACK -") == 1
    assert match == [e for e in miss if e not in ("sql INSERT account", "sql ROLLBACK -")], (match, miss)
    assert "sql INSERT one_time_code" in match and "sql INSERT outbox_message" in match
    with app.app_context():
        assert OutboxMessage.select().count() == 2  # registration + the match; the miss's mail was rolled back


def test_at_most_three_codes_per_account_per_hour(app, registered, mailbox, forgot, frozen_clock):
    for _ in range(3):
        assert forgot().status_code == 200
    crossing = forgot()
    assert crossing.status_code == 429 and crossing.headers["Retry-After"]
    assert "try again in" in crossing.get_data(as_text=True)
    assert len(mailbox.messages("janos@example.hu")) == 4  # registration + 3 recoveries
    frozen_clock.advance(hours=1, seconds=1)
    assert forgot().status_code == 200
    assert len(mailbox.messages("janos@example.hu")) == 5


def test_the_per_account_limit_counts_unknown_names_too(forgot):
    """Otherwise a 429 for a real name and a 200 for a made-up one would tell them apart."""
    for _ in range(3):
        assert forgot(username="nobody.here").status_code == 200
    assert forgot(username="nobody.here").status_code == 429


def test_a_staff_username_answers_like_any_miss_and_gets_no_code(app, services, forgot):
    """Staff have no identification e-mail: no 500, no hint that the name is staff, never a code."""
    from domain import desk

    with app.app_context():
        desk.add_staff(services, username="ugyintezo.anna", role="admin", password="irodai asztal mögött ül")
        clerk = Account.get(Account.username == "ugyintezo.anna")
    miss = forgot(username="nobody.here", email="anna@example.hu")
    staff_answer = forgot(username="ugyintezo.anna", email="anna@example.hu")
    assert staff_answer.status_code == miss.status_code == 200
    assert strip_values(staff_answer.get_data(as_text=True)) == strip_values(miss.get_data(as_text=True))
    with app.app_context():  # a staff account that got an e-mail address somehow: still no code
        Account.update(email="anna@example.hu").where(Account.id == clerk.id).execute()
    assert forgot(username="ugyintezo.anna", email="anna@example.hu").status_code == 200
    with app.app_context():
        assert OutboxMessage.select().count() == 0
        assert not OneTimeCode.select().where(OneTimeCode.account == clerk.id).exists()
