"""Every statement a citizen's journey and the mail loop run finds its rows through an index, on both databases.

The big tables are filled (as a deployment of many citizens fills them) and analysed; then every statement of a
real registration, activation, login, account page, notices banner, logout, forgotten-password request, the
desk's pending list (clerk and admin) and mail delivery has its plan read just before it runs (PostgreSQL's
EXPLAIN, SQLite's EXPLAIN QUERY PLAN). A statement that reads a big table from end to end fails the test.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

import db
from domain import clock, limits, outbox, retention
from tests.support.helpers import STAFF_PASSWORD, STRONG_PASSWORD, add_staff, csrf_token

ROWS = 20_000
BIG_TABLES = ("account", "one_time_code", "outbox_message", "hit", "login_session", "audit_event", "notice")
LONG_AGO = datetime(2025, 1, 1)
RECENTLY = clock.now() - timedelta(minutes=1)

# (table, {column: SQL over the row number n, or a placeholder marked with a datetime})
FILLERS = [
    (
        "account",
        {
            "username": "'filler.' || n",
            "display_username": "'filler.' || n",
            "full_name": "'Filler'",
            "email": "'filler' || n || '@example.hu'",
            "role": "'citizen'",
            "status": "'active'",
            "session_version": "1",
            "language": "'hu'",
            "channel": "'online'",
            "created_at": LONG_AGO,
        },
    ),
    (
        "one_time_code",
        {
            "account_id": "n",
            "code_hash": "'x'",
            "purpose": "'activation'",
            "created_at": LONG_AGO,
            "expires_at": LONG_AGO,
            "failed_attempts": "0",
            "used_at": LONG_AGO,
        },
    ),
    (
        "outbox_message",
        {
            "kind": "'activation_code'",
            "recipient": "'filler' || n || '@example.hu'",
            "subject": "'Kapu'",
            "created_at": LONG_AGO,
            "status": "'sent'",
            "attempts": "1",
            "next_attempt_at": LONG_AGO,
            "sent_at": LONG_AGO,
            "message_id": "'<' || n || '@kapu>'",
        },
    ),
    ("hit", {"key": "'login:filler.' || n", "at": RECENTLY}),  # inside the windows: nothing to forget yet
    (
        "login_session",
        {
            "token_hash": "'t' || n",
            "account_id": "n",
            "session_version": "1",
            "created_at": LONG_AGO,
            "seen_at": LONG_AGO,
        },
    ),
    ("audit_event", {"at": LONG_AGO, "kind": "'login'", "outcome": "'success'", "account_id": "n"}),
    (
        "notice",
        {
            "service": "'Kapu'",
            "title": "'Old'",
            "body": "'Over'",
            "still_works": "''",
            "contact": "''",
            "severity": "'info'",
            "detected_at": LONG_AGO,
            "resolved_at": LONG_AGO,
            "created_at": LONG_AGO,
            "updated_at": LONG_AGO,
        },
    ),
]


def fill(database, rows):
    """Each big table gets *rows* rows, made inside the database (one statement per table)."""
    postgres = db.is_postgres(database)
    mark = database.param
    with database.atomic():
        for table, columns in FILLERS:
            values, params = [], []
            for value in columns.values():
                if isinstance(value, datetime):
                    values.append(mark)
                    params.append(value if postgres else value.isoformat(" "))
                else:
                    values.append(value)
            names = ", ".join(f'"{name}"' for name in columns)
            # Only our own column names, expressions and the row count are formatted in.
            if postgres:
                sql = f'INSERT INTO "{table}" ({names}) SELECT {", ".join(values)} FROM generate_series(1, {rows}) AS seq(n)'  # noqa: S608,E501
            else:
                sql = (
                    f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {rows}) "  # noqa: S608
                    f'INSERT INTO "{table}" ({names}) SELECT {", ".join(values)} FROM seq'
                )
            database.execute_sql(sql, params)
    database.execute_sql("ANALYZE")


class Planner:
    """While on, reads the plan of every SELECT, UPDATE and DELETE the app runs, just before it runs."""

    def __init__(self, database, monkeypatch):
        self.plans, self.on = [], False
        real = database.execute_sql
        postgres = db.is_postgres(database)

        def execute_sql(sql, params=None, *args, **kwargs):
            reads = sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")) and "pg_advisory" not in sql
            if self.on and reads:
                explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
                rows = real(explain + sql, params).fetchall()
                plan = "\n".join(str(row[0] if postgres else row[-1]) for row in rows)
                self.plans.append((sql, plan, (full_reads_postgres if postgres else full_reads_sqlite)(sql, plan)))
            return real(sql, params, *args, **kwargs)

        monkeypatch.setattr(database, "execute_sql", execute_sql)

    def __enter__(self):
        self.on = True

    def __exit__(self, *exc):
        self.on = False


def full_reads_postgres(sql, plan):
    """Big tables this plan reads end to end: a Seq Scan, or an index walked without a condition on it."""
    found, lines = [], plan.splitlines()
    for number, line in enumerate(lines):
        scan = re.search(r"(Seq Scan|Index Scan|Index Only Scan|Index Scan Backward) (?:using \w+ )?on (\w+)", line)
        if not scan or scan.group(2) not in BIG_TABLES:
            continue
        details = []
        for following in lines[number + 1 :]:
            if "->" in following:
                break
            details.append(following)
        if scan.group(1) == "Seq Scan" or not any("Index Cond" in detail for detail in details):
            found.append(line.strip())
    return found


def full_reads_sqlite(sql, plan):
    """Big tables this plan SCANs (SQLite's word for reading them whole; SEARCH is a lookup through an index)."""
    tables = {alias: table for table, alias in re.findall(r'"(\w+)" AS "(\w+)"', sql)}
    return [
        f"SCAN {tables.get(name, name)}"
        for name in re.findall(r"^SCAN (\w+)", plan, flags=re.MULTILINE)
        if tables.get(name, name) in BIG_TABLES
    ]


def submit(client, path, fields, form_path=None):
    return client.post(path, data={"csrf_token": csrf_token(client, form_path or path), **fields})


def test_a_citizens_journey_the_desk_and_the_mail_loop_read_big_tables_only_through_indexes(
    app, client, services, mailbox, registered, auth, monkeypatch
):
    database = app.extensions["kapu_database"]
    with app.app_context():
        fill(database, ROWS)
    add_staff(app, "ugyintezo", "clerk", office="BP-V-OKM")
    add_staff(app, "rendszergazda", "admin")
    planner = Planner(database, monkeypatch)
    monkeypatch.setattr(limits.random, "random", lambda: 0.0)  # the occasional forgetting of old hits: every time
    fields = {"username": "uj.polgar", "full_name": "Új Polgár", "email": "uj.polgar@example.hu"}

    with planner:
        assert submit(client, "/register", fields).status_code == 200
    link, code = mailbox.last_link("uj.polgar@example.hu"), mailbox.last_code("uj.polgar@example.hu")
    password = {"password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD}
    with planner:
        assert client.get(link).status_code == 303
        assert submit(client, "/activate", {"username": "uj.polgar", "code": code, **password}).status_code == 200
        assert submit(client, "/login", {"username": "uj.polgar", "password": STRONG_PASSWORD}).status_code == 303
        assert client.get("/account").status_code == 200
        assert client.get("/notices/banner").status_code == 200
        assert submit(client, "/logout", {}, form_path="/account").status_code in (200, 303)
        assert (
            submit(
                client,
                "/forgotten-password",
                {"username": "uj.polgar", "email": fields["email"]},
            ).status_code
            == 200
        )
        for name in ("ugyintezo", "rendszergazda"):  # the desk's pending registrations (`registered` among them)
            desk = app.test_client()
            assert auth.login(name, STAFF_PASSWORD, client=desk).status_code == 303
            assert desk.get("/desk").status_code == 200
        with app.app_context(), pytest.raises(outbox.MailNotAllowed):  # an account's address gets only its own mail
            outbox.enqueue(services, "newsletter", "filler7@example.hu", "Hírlevél", "-", "-")
        with app.app_context():
            message = outbox.claim_next()
            assert message is not None  # the oldest unsent mail
            outbox.mark_sent(message)

    assert len(planner.plans) > 20  # the journey really ran
    problems = [f"{sql}\n  {found}\n{plan}" for sql, plan, found in planner.plans if found]
    assert not problems, "\n\n".join(problems)


# (table, its time columns): a year of recent rows, and a day's worth (the first OLD_ROWS ids) past retention.
AGED = [
    ("one_time_code", ("created_at", "expires_at", "used_at")),
    ("outbox_message", ("created_at", "next_attempt_at", "sent_at")),
    ("login_session", ("created_at", "seen_at")),
    ("audit_event", ("at",)),
]
OLD_ROWS = 100


def test_the_daily_purge_finds_old_rows_through_indexes_in_bounded_batches(app, monkeypatch):
    database = app.extensions["kapu_database"]
    recent = clock.now() - timedelta(minutes=5)
    with app.app_context():
        fill(database, ROWS)
        stamp = recent if db.is_postgres(database) else recent.isoformat(" ")
        with database.atomic():
            for table, columns in AGED:
                assignments = ", ".join(f'"{column}" = {database.param}' for column in columns)
                database.execute_sql(
                    f'UPDATE "{table}" SET {assignments} WHERE id > {OLD_ROWS}',  # noqa: S608 - our own names
                    [stamp] * len(columns),
                )
            # The last accounts never activated: registered long ago, their codes (used since) no longer work.
            database.execute_sql(f"UPDATE account SET status = 'pending' WHERE id > {ROWS - OLD_ROWS}")  # noqa: S608
            # ... but the very last was sent a new code yesterday: it is kept while that code works.
            tomorrow = recent + timedelta(days=1)
            database.execute_sql(
                f"UPDATE one_time_code SET used_at = NULL, expires_at = {database.param} WHERE account_id = {ROWS}",  # noqa: S608
                [tomorrow if db.is_postgres(database) else tomorrow.isoformat(" ")],
            )
        database.execute_sql("ANALYZE")
    monkeypatch.setattr(retention, "BATCH", 30)  # several short transactions per kind
    planner = Planner(database, monkeypatch)
    with planner, app.app_context():
        counts = retention.purge(retention.Retention())
    assert counts == {
        "audit events": OLD_ROWS,
        "sent mail": OLD_ROWS,
        "used or expired codes": OLD_ROWS,
        "never-activated accounts": OLD_ROWS - 1,
        "rate-limit hits": 0,
        "timed-out sessions": OLD_ROWS,
    }
    with app.app_context():
        assert database.execute_sql("SELECT count(*) FROM account").fetchone()[0] == ROWS - OLD_ROWS + 1
        assert database.execute_sql("SELECT count(*) FROM one_time_code").fetchone()[0] == ROWS - 2 * OLD_ROWS + 1
        assert database.execute_sql(f"SELECT status FROM account WHERE id = {ROWS}").fetchone() == ("pending",)  # noqa: S608
    deletes = [sql for sql, _, _ in planner.plans if sql.lstrip().upper().startswith("DELETE")]
    assert len(deletes) >= 5 * (OLD_ROWS // 30)
    problems = [f"{sql}\n  {found}\n{plan}" for sql, plan, found in planner.plans if found]
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize(
    "table, columns",
    [
        ("account", ["email"]),
        ("account", ["username"]),
        ("account", ["status", "office", "created_at"]),
        ("hit", ["at"]),
        ("outbox_message", ["status", "id"]),
        ("notice", ["resolved_at", "detected_at"]),
        ("one_time_code", ["expires_at"]),
        ("outbox_message", ["status", "created_at"]),
        ("account", ["status", "created_at"]),
        ("login_session", ["seen_at"]),
    ],
)
def test_the_migrated_schema_has_the_lookup_indexes(app, table, columns):
    database = app.extensions["kapu_database"]
    with app.app_context():
        indexed = [index.columns for index in database.get_indexes(table)]
    assert columns in indexed
