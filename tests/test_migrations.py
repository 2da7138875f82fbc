"""Numbered migrations: the released schema upgrades and still works; a mismatched schema is refused."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from peewee import CharField, TextField

import db
import migrations
import models
from app import create_app
from domain import clock, outbox
from models import OutboxMessage
from tests.support.helpers import RELEASED_CODE, RELEASED_KEY, Auth, open_sqlite, released_database

ROOT = Path(__file__).resolve().parent.parent
REAL_STEPS = list(migrations.steps())


def schema_of(path):
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return {(kind, name, " ".join((sql or "").split())) for kind, name, sql in rows}


def versions_of(path):
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT version FROM schema_version ORDER BY id")]


def step(upgrade):
    return types.SimpleNamespace(upgrade=upgrade)


def with_steps(monkeypatch, *extra):
    """The real steps followed by test steps numbered after them."""
    numbered = [(len(REAL_STEPS) + i + 1, s) for i, s in enumerate(extra)]
    monkeypatch.setattr(migrations, "steps", lambda: REAL_STEPS + numbered)
    return [number for number, _ in numbered]


def test_v001_creates_exactly_the_released_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(migrations, "steps", lambda: REAL_STEPS[:1])
    database = open_sqlite(tmp_path / "new.db")
    assert migrations.upgrade(database) == [1]
    database.close()
    assert schema_of(tmp_path / "new.db") == schema_of(released_database(tmp_path / "old.db"))


def test_a_released_database_is_version_1_and_upgrades_to_the_latest(tmp_path):
    path = released_database(tmp_path / "kapu.db")
    database = open_sqlite(path)
    assert migrations.current_version(database) == 1
    assert migrations.upgrade(database) == [number for number, _ in REAL_STEPS if number > 1]
    assert migrations.current_version(database) == migrations.latest()
    assert migrations.upgrade(database) == []  # idempotent
    database.close()


def upgraded_release(tmp_path):
    """The released database, migrated to the current schema; its path and when its pending citizen registered."""
    path = released_database(tmp_path / "kapu.db")
    database = open_sqlite(path)
    migrations.upgrade(database)
    database.close()
    with sqlite3.connect(path) as connection:
        (created,) = connection.execute("SELECT created_at FROM account WHERE username='regi.polgar'").fetchone()
    return path, datetime.fromisoformat(created)


@pytest.mark.sqlite_only  # works on SQLite files of its own
def test_after_upgrade_the_pending_account_activates_with_its_mailed_code_and_logs_in(tmp_path, make_app, frozen_clock):
    path, created = upgraded_release(tmp_path)
    # Live again as an hour after the registration (the code's three days would otherwise have run out).
    frozen_clock.advance(seconds=-(datetime.now() - created).total_seconds() + 3600)
    auth = Auth.of(make_app(KAPU_DATABASE_URL=f"sqlite:///{path}", KAPU_SECRET_KEY=RELEASED_KEY))
    assert auth.activate(RELEASED_CODE, username="regi.polgar").status_code in (200, 302, 303)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT status FROM account WHERE username='regi.polgar'").fetchone() == ("active",)
    fresh = auth.app.test_client()
    assert auth.login("regi.polgar", client=fresh).status_code in (302, 303)
    assert "Régi Polgár" in fresh.get("/account").get_data(as_text=True)


@pytest.mark.sqlite_only  # works on SQLite files of its own
def test_after_upgrade_the_link_mailed_by_the_release_still_opens_the_form_with_its_code(
    tmp_path, make_app, frozen_clock, monkeypatch
):
    """Links mailed before the opaque-link change carry {row, code} signed alike: they keep working after an upgrade."""
    path, created = upgraded_release(tmp_path)
    an_hour_later = created + timedelta(hours=1)
    frozen_clock.advance(seconds=-(clock.now() - an_hour_later).total_seconds())
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: int(an_hour_later.replace(tzinfo=UTC).timestamp())
    )
    app = make_app(KAPU_DATABASE_URL=f"sqlite:///{path}", KAPU_SECRET_KEY=RELEASED_KEY)
    with app.app_context():
        text = outbox.unseal(app.extensions["kapu"], OutboxMessage.get())["text"]
    link = re.search(r"http://kapu\.test(/activate/\S+)", text).group(1)
    client = app.test_client()
    assert client.get(link).status_code == 303
    page = client.get("/activate").get_data(as_text=True)
    assert re.search(r'name="code"[^>]*value="([^"]*)"', page).group(1) == RELEASED_CODE
    auth = Auth.of(app)
    assert auth.activate(RELEASED_CODE, username="regi.polgar", client=client).status_code == 200
    assert client.get(link).status_code == 409  # used now, as a new link would be
    tampered = URLSafeTimedSerializer(RELEASED_KEY, salt="kapu.link.activate").dumps({"c": 1, "k": "AAAAA-AAAAA"})
    assert client.get(f"/activate/{tampered}").status_code == 400


@pytest.mark.sqlite_only  # works on SQLite files of its own
def test_the_factory_refuses_an_older_schema_and_a_newer_one(tmp_path, app_config, monkeypatch):
    path = released_database(tmp_path / "kapu.db")
    config = {**app_config, "KAPU_DATABASE_URL": f"sqlite:///{path}"}
    (pending,) = with_steps(monkeypatch, step(lambda migrator, database: None))
    with pytest.raises(migrations.SchemaMismatch, match=f"version 1, this Kapu needs version {pending}.*migrate"):
        create_app(config)
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(migrations.SchemaMismatch, match="version 99, newer than this Kapu"):
        create_app(config)


@pytest.mark.sqlite_only  # works on SQLite files of its own
def test_an_empty_database_is_created_on_start_but_a_foreign_one_is_refused(tmp_path, app_config):
    app = create_app({**app_config, "KAPU_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"})
    app.extensions["kapu_database"].close()
    assert versions_of(tmp_path / "new.db") == [number for number, _ in REAL_STEPS]
    with sqlite3.connect(tmp_path / "foreign.db") as connection:
        connection.execute("CREATE TABLE account (id INTEGER PRIMARY KEY)")
    with pytest.raises(migrations.SchemaMismatch, match="not made by Kapu"):
        create_app({**app_config, "KAPU_DATABASE_URL": f"sqlite:///{tmp_path / 'foreign.db'}"})


def test_migrate_applies_pending_steps_once(app, runner, monkeypatch, tmp_path):
    (number,) = with_steps(monkeypatch, step(lambda migrator, database: migrations_add_note(migrator)))
    result = runner.invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    assert f"Applied migration(s) {number:03d}; the schema is at version {number}." in result.output
    with app.app_context():
        assert "note" in {column.name for column in models.database.get_columns("hit")}
    again = runner.invoke(args=["migrate"])
    assert f"The schema is current (version {number})." in again.output
    with app.app_context():  # the app's own database, SQLite or PostgreSQL
        versions = [row[0] for row in models.database.execute_sql("SELECT version FROM schema_version")]
    assert max(versions) == number


def migrations_add_note(migrator):
    from playhouse.migrate import migrate

    migrate(migrator.add_column("hit", "note", TextField(null=True)))


def test_a_failing_step_changes_nothing(tmp_path, monkeypatch):
    path = released_database(tmp_path / "kapu.db")
    database = open_sqlite(path)
    migrations.upgrade(database)

    def half_done(migrator, database):
        migrations_add_note(migrator)
        raise RuntimeError("disk full")

    with_steps(monkeypatch, step(half_done))
    with pytest.raises(RuntimeError, match="disk full"):
        migrations.upgrade(database)
    assert "note" not in {column.name for column in database.get_columns("hit")}
    assert migrations.current_version(database) == REAL_STEPS[-1][0]
    database.close()


def test_a_step_that_rebuilds_a_table_keeps_the_rows_that_point_at_it(tmp_path, monkeypatch):
    """SQLite alters a column by copying the table; with foreign keys on, dropping it would cascade."""
    path = released_database(tmp_path / "kapu.db")
    database = open_sqlite(path)
    from playhouse.migrate import migrate

    with_steps(
        monkeypatch,
        step(
            lambda migrator, db: migrate(
                migrator.alter_column_type("account", "office", CharField(max_length=64, null=True))
            )
        ),
    )
    migrations.upgrade(database)
    database.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM one_time_code").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM outbox_message WHERE account_id = 1").fetchone() == (1,)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_two_processes_starting_at_once_apply_each_step_once(tmp_path, monkeypatch):
    ran = []

    def slow(migrator, database):
        ran.append("slow")
        time.sleep(0.3)

    (number,) = with_steps(monkeypatch, step(slow))
    path = tmp_path / "kapu.db"
    errors = []

    def start():
        database = open_sqlite(path)
        try:
            migrations.upgrade(database)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert ran == ["slow"]
    assert versions_of(path) == [n for n, _ in REAL_STEPS] + [number]


def test_two_threads_read_the_versions_of_two_databases_at_once(tmp_path):
    """Each thread reads its own database's version (one released, one upgraded): never the other's, never none."""
    released_database(tmp_path / "old.db")
    released_database(tmp_path / "new.db")
    upgraded = open_sqlite(tmp_path / "new.db")
    migrations.upgrade(upgraded)
    expected = {open_sqlite(tmp_path / "old.db"): 1, upgraded: migrations.latest()}
    start, seen, errors = threading.Barrier(2, timeout=30), {}, []

    def read(database):
        start.wait()
        try:
            seen[expected[database]] = {migrations.current_version(database) for _ in range(500)}
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=read, args=(database,)) for database in expected]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns between almost every two bytecodes
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(interval)
    for database in expected:
        database.close()
    assert errors == []
    assert seen == {version: {version} for version in expected.values()}


def test_a_server_starting_while_another_creates_the_schema_waits_and_finds_it_current(database_url, monkeypatch):
    """Two servers started at once on an empty database: the second must not see half a schema and refuse it."""
    creating = threading.Event()

    def slow(migrator, database):
        creating.set()
        time.sleep(0.5)

    (number,) = with_steps(monkeypatch, step(slow))
    results, errors = {}, []

    def start(name):
        database = db.open_database(database_url)  # closed by the database_url fixture
        try:
            results[name] = migrations.prepare(database)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    first = threading.Thread(target=start, args=("first",))
    first.start()
    assert creating.wait(timeout=30)
    second = threading.Thread(target=start, args=("second",))
    second.start()
    for thread in (first, second):
        thread.join(timeout=30)
    assert errors == []
    assert results == {"first": True, "second": False}  # only the creator seeds the shipped help
    assert migrations.current_version(db.open_database(database_url)) == number


def run_cli(tmp_path, *args, code=None):
    env = {
        **os.environ,
        "KAPU_DATABASE_URL": f"sqlite:///{tmp_path / 'kapu.db'}",
        "KAPU_SECRET_KEY": RELEASED_KEY,
        "KAPU_SMTP_HOST": "",
    }
    command = [sys.executable, "-m", "flask", "--app", "app", *args] if code is None else [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow  # starts the command line as processes
def test_the_command_line_and_the_server_refuse_a_newer_schema_in_one_line(tmp_path):
    released_database(tmp_path / "kapu.db")
    with sqlite3.connect(tmp_path / "kapu.db") as connection:
        connection.execute("INSERT INTO schema_version (version) VALUES (99)")
    for result in (
        run_cli(tmp_path, "notice", "list"),
        run_cli(tmp_path, "migrate"),
        run_cli(tmp_path, code="from app import create_app; create_app()"),
    ):
        assert result.returncode != 0
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "version 99, newer than this Kapu" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.slow  # starts the command line as processes
def test_the_operator_upgrades_a_released_database_from_the_command_line(tmp_path):
    released_database(tmp_path / "kapu.db")
    if migrations.latest() > 1:
        refused = run_cli(tmp_path, "notice", "list")
        assert refused.returncode != 0 and "run `migrate`" in refused.stderr
        assert refused.stderr.strip().count("\n") == 0
    result = run_cli(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert f"the schema is at version {migrations.latest()}" in result.stdout or "current" in result.stdout
    assert run_cli(tmp_path, "notice", "list").returncode == 0
    assert versions_of(tmp_path / "kapu.db") == [number for number, _ in REAL_STEPS]
