"""Durability: after kill -9 mid-activations every account is fully activated or pending with a working code; only
counters and link openings commit without waiting for the disk."""

import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from app import create_app
from domain import activation, registration
from models import Account, AuditEvent, OneTimeCode
from tests.support.helpers import STRONG_PASSWORD, Mailbox, csrf_token

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = 120


@pytest.mark.slow  # kill -9 of a process mid-activation
def test_kill_minus_nine_leaves_no_half_activated_account(app_config, tmp_path):
    app = create_app(app_config)
    with app.test_request_context():
        for i in range(ACCOUNTS):
            registration.register(
                app.extensions["kapu"],
                username=f"citizen.{i}",
                full_name="X",
                email=f"c{i}@example.hu",
                language="hu",
                channel="online",
            )
    mailbox = Mailbox(app)
    codes = {f"citizen.{i}": mailbox.last_code(f"c{i}@example.hu") for i in range(ACCOUNTS)}
    worker = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from app import create_app
        from domain import activation
        from tests.support.helpers import FAST_HASHER
        app = create_app({{**{ {k: v for k, v in app_config.items() if k.startswith("KAPU_")}!r},
                           "PASSWORD_HASHER": FAST_HASHER}})
        codes = {codes!r}
        print("ready", flush=True)
        with app.app_context():
            for username, code in codes.items():
                activation.activate(app.extensions["kapu"], username, code, {STRONG_PASSWORD!r})
                print(username, flush=True)
    """)
    env = {**os.environ, "KAPU_DATABASE_URL": app_config["KAPU_DATABASE_URL"]}  # as a server starts: drivers.py
    process = subprocess.Popen([sys.executable, "-c", worker], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert process.stdout.readline().strip() == "ready"
    done = [process.stdout.readline() for _ in range(5)]
    time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()
    assert len(done) == 5

    active, pending = 0, 0
    services = app.extensions["kapu"]
    with app.app_context():
        for username, code in codes.items():
            account = Account.get(Account.username == username)
            live = OneTimeCode.live_for(account)
            if account.status == "active":
                assert account.password_hash and live is None
                active += 1
            else:
                assert account.status == "pending" and account.password_hash is None and live is not None
                assert activation.activate(services, username, code, STRONG_PASSWORD) is activation.Outcome.ACTIVATED
                pending += 1
    print(f"killed after {active} of {ACCOUNTS} activations")
    assert active >= 5 and active + pending == ACCOUNTS
    app.extensions["kapu_database"].close()


@pytest.mark.sqlite_only
def test_online_backup_while_the_database_is_open(runner, app, registered, tmp_path):
    target = tmp_path / "backup.tar"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    with tarfile.open(target) as archive:
        (tmp_path / "copy.db").write_bytes(archive.extractfile("kapu.db").read())
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT username FROM account").fetchall() == [("kovacs.janos",)]


def traced(app):
    """The SQL statements this thread's connection runs from now on (a list, filled as they run), and a stop."""
    connection = app.extensions["kapu_database"].connection()
    statements = []
    connection.set_trace_callback(statements.append)
    return statements, lambda: connection.set_trace_callback(None)


def in_force(trace, index):
    """The synchronous setting the statement at *index* of *trace* commits under."""
    return next((sql for sql in reversed(trace[:index]) if sql.startswith("PRAGMA synchronous")), "the file's")


def audit_line_without_waiting_for_the_disk(trace):
    audit_insert = next(i for i, sql in enumerate(trace) if sql.startswith('INSERT INTO "audit_event"'))
    assert in_force(trace, audit_insert) == "PRAGMA synchronous = NORMAL"
    assert trace[-1] != "PRAGMA synchronous = NORMAL" and "PRAGMA synchronous = full" in trace[audit_insert:]


@pytest.mark.sqlite_only  # reads SQLite's own statements
def test_a_link_opening_is_written_without_waiting_for_the_disk_an_activation_waits(
    app, client, registered, mailbox, auth
):
    """Counters and link-opening lines may be lost to a power cut (synchronous=NORMAL for their commit); an
    activation may not (the file's synchronous=FULL)."""
    link = mailbox.last_link()
    statements, stop = traced(app)
    try:
        assert client.get(link).status_code == 303
        opened = list(statements)
        statements.clear()
        assert auth.activate().status_code == 200
    finally:
        stop()
    audit_line_without_waiting_for_the_disk(opened)
    activation_update = next(i for i, sql in enumerate(statements) if sql.startswith('UPDATE "account"'))
    assert in_force(statements, activation_update) in ("PRAGMA synchronous = full", "the file's")


@pytest.mark.sqlite_only  # reads SQLite's own statements
def test_a_refusals_audit_line_is_written_without_waiting_for_the_disk(make_app):
    """A flood of refused requests (no token, past a limit) costs its sender nothing: it must not cost one disk
    flush each. Every refusal is still an audit line."""
    app = make_app(KAPU_CLIENT_POSTS_PER_MINUTE=1)
    client = app.test_client()
    statements, stop = traced(app)
    try:
        assert client.post("/register", data={"username": "x"}).status_code == 400  # no CSRF token
        refused = list(statements)
        statements.clear()
        token = csrf_token(client, "/register")
        assert client.post("/login", data={"csrf_token": token, "username": "x", "password": "y"}).status_code == 422
        statements.clear()
        assert client.post("/login", data={"csrf_token": token, "username": "x", "password": "y"}).status_code == 429
        limited = list(statements)
    finally:
        stop()
    audit_line_without_waiting_for_the_disk(refused)
    audit_line_without_waiting_for_the_disk(limited)
    with app.app_context():
        outcomes = [(e.kind, e.outcome) for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert ("csrf", "refused") in outcomes and ("auth.login", "rate_limited") in outcomes
