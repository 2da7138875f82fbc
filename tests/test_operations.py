"""Backup and restore (with the key, 0600), retention purge on a moved clock, the daily run."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from datetime import timedelta

import pytest
from flask import Flask

import db
import migrations
import operations
from app import create_app
from domain import clock, registration, retention, upkeep
from models import Account, AuditEvent, Hit, OneTimeCode, OutboxMessage
from tests.support.helpers import BASE_URL, FAST_HASHER, STRONG_PASSWORD, Auth, Mailbox, csrf_token, register_citizen


@pytest.fixture
def data_dir_app(app_config, monkeypatch):
    """Apps whose data folder (the generated secret key, the SQLite file) is a folder of the test's choosing."""
    made = []

    def build(folder):
        folder.mkdir(exist_ok=True)
        monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(folder))
        config = {k: v for k, v in app_config.items() if k != "KAPU_SECRET_KEY"}
        app = create_app({**config, "KAPU_SECRET_KEY": "", "KAPU_DATABASE_URL": f"sqlite:///{folder / 'kapu.db'}"})
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["kapu_database"].close()


def test_backup_is_private_from_creation_and_holds_the_database_and_key(data_dir_app, tmp_path):
    app = data_dir_app(tmp_path / "data")
    register_citizen(app, language="en", channel="office")
    target = tmp_path / "kapu-backup.tar"
    old_umask = os.umask(0)  # even a permissive umask must not open a window
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(target)])
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert "database and its secret key" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with tarfile.open(target) as archive:
        assert sorted(archive.getnames()) == ["kapu.db", "secret_key"]
        assert archive.extractfile("secret_key").read() == (tmp_path / "data" / "secret_key").read_bytes()
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".kapu-")] == []
    again = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output


def test_restore_into_a_fresh_data_folder_then_the_mailed_code_activates(data_dir_app, tmp_path):
    old = data_dir_app(tmp_path / "old")
    register_citizen(old, language="en", channel="office")
    code = Mailbox(old).last_code()
    target = tmp_path / "kapu-backup.tar"
    assert old.test_cli_runner().invoke(args=["backup", str(target)]).exit_code == 0

    fresh = data_dir_app(tmp_path / "new")  # a new machine: its own freshly generated key, an empty database
    assert (tmp_path / "new" / "secret_key").read_bytes() != (tmp_path / "old" / "secret_key").read_bytes()
    result = fresh.test_cli_runner().invoke(args=["restore", str(target)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "secret_key").read_bytes() == (tmp_path / "old" / "secret_key").read_bytes()
    assert stat.S_IMODE((tmp_path / "new" / "secret_key").stat().st_mode) == 0o600

    restored = data_dir_app(tmp_path / "new")  # the server started again
    client = restored.test_client()
    client.post(
        "/activate",
        data={
            "csrf_token": csrf_token(client),
            "username": "kovacs.janos",
            "code": code,
            "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD,
        },
    )
    with restored.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "active"

    refused = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert restored.test_cli_runner().invoke(args=["restore", "--force", str(target)]).exit_code == 0


@pytest.mark.sqlite_only  # backup and restore handle SQLite
def test_restore_refuses_what_is_not_a_backup(runner, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_text("not a tar file")
    result = runner.invoke(args=["restore", str(junk)])
    assert result.exit_code != 0 and "not a Kapu backup" in result.output


@pytest.mark.sqlite_only  # backup and restore handle SQLite
def test_backup_says_to_keep_the_key_from_the_environment(runner, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "b.tar")])
    assert result.exit_code == 0
    assert "KAPU_SECRET_KEY is set in the environment" in result.output


def old_and_new_rows(app, services, frozen_clock):
    """Rows made 400 days ago (expired, used, abandoned) and rows made today."""
    with app.test_request_context():
        registration.register(
            services,
            username="abandoned",
            full_name="Régi Polgár",
            email="old@example.hu",
            language="en",
            channel="online",
        )
        activated = registration.register(
            services,
            username="activated",
            full_name="Aktív Polgár",
            email="active@example.hu",
            language="en",
            channel="online",
        ).account
        Account.update(status="active").where(Account.id == activated.id).execute()
        OneTimeCode.update(used_at=clock.now()).where(OneTimeCode.account == activated).execute()
        OutboxMessage.update(status="sent", sent_at=clock.now()).execute()
        Hit.create(key="login:x", at=clock.now())
    frozen_clock.advance(days=400)
    with app.test_request_context():
        registration.register(
            services, username="recent", full_name="Új Polgár", email="new@example.hu", language="en", channel="online"
        )


def test_purge_deletes_by_the_retention_settings(app, services, runner, frozen_clock):
    old_and_new_rows(app, services, frozen_clock)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "2 used or expired codes" in result.output and "1 never-activated accounts" in result.output
    with app.app_context():
        assert sorted(a.username for a in Account.select()) == ["activated", "recent"]
        assert [c.account.username for c in OneTimeCode.select()] == ["recent"]
        assert [m.recipient for m in OutboxMessage.select()] == ["new@example.hu"]  # pending mail is kept
        assert Hit.select().count() == 0
        assert {e.kind for e in AuditEvent.select()} <= {"registration", "code_issued", "purge"}
        assert AuditEvent.select().where(AuditEvent.at < clock.now() - timedelta(days=365)).count() == 0
    assert (
        "Deleted 0 audit events, 0 sent mail, 0 used or expired codes, 0 never-activated accounts"
        in runner.invoke(args=["purge"]).output
    )


def test_a_short_setting_keeps_less(make_app, frozen_clock):
    app = make_app(KAPU_RETAIN_AUDIT_DAYS="1", KAPU_RETAIN_PENDING_DAYS="400")
    services = app.extensions["kapu"]
    register_citizen(app, language="en", channel="office")
    frozen_clock.advance(days=30)
    with app.app_context():
        counts = retention.purge(retention.Retention.from_config(app.config))
        assert counts["never-activated accounts"] == 0 and counts["audit events"] == 2
        assert Account.select().count() == 1
    assert services


def test_the_delivery_loop_purges_once_a_day_for_the_whole_deployment(app, make_app, services, frozen_clock):
    old_and_new_rows(app, services, frozen_clock)
    with app.app_context():
        upkeep.tick(app)
        assert Account.select().count() == 2
    other_server = make_app()  # another server (or worker) on the same database
    with other_server.app_context():
        assert retention.purge_if_due(retention.Retention.from_config(other_server.config)) is None
    with app.app_context():
        register_citizen(app, "later", "later@example.hu", language="en", channel="office")
        app.extensions["kapu_upkeep"]["last"] = float("-inf")  # as if ten seconds went by
        upkeep.tick(app)  # the purge ran today already: nothing more goes
        frozen_clock.advance(days=91)
        app.extensions["kapu_upkeep"]["last"] = float("-inf")
        upkeep.tick(app)
        assert "later" not in [a.username for a in Account.select()]
        assert upkeep.last_beat() >= clock.now() - timedelta(seconds=1)


def test_restore_refuses_a_backup_newer_than_the_code(data_dir_app, tmp_path):
    import sqlite3

    old = data_dir_app(tmp_path / "old")
    target = tmp_path / "kapu-backup.tar"
    assert old.test_cli_runner().invoke(args=["backup", str(target)]).exit_code == 0
    with tarfile.open(target) as archive:
        (tmp_path / "copy.db").write_bytes(archive.extractfile("kapu.db").read())
    connection = sqlite3.connect(tmp_path / "copy.db")
    with connection:
        connection.execute("INSERT INTO schema_version (version) VALUES (99)")
    connection.close()  # closing checkpoints the WAL into the file the tar takes
    newer = tmp_path / "newer.tar"
    with tarfile.open(newer, "w") as archive:
        archive.add(tmp_path / "copy.db", arcname="kapu.db")
    fresh = data_dir_app(tmp_path / "new")
    result = fresh.test_cli_runner().invoke(args=["restore", str(newer)])
    assert result.exit_code != 0 and "newer than this Kapu" in result.output


@pytest.fixture
def postgres_app(postgres_server, monkeypatch):
    """Apps on a PostgreSQL database of their own, with a data folder (the generated key) of the test's choosing."""
    made = []

    def build(folder, name):
        folder.mkdir(exist_ok=True)
        monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(folder))
        config = {"TESTING": True, "KAPU_BASE_URL": BASE_URL, "KAPU_SMTP_HOST": "", "KAPU_LANGUAGE": "en"}
        config.update(PASSWORD_HASHER=FAST_HASHER, KAPU_SECRET_KEY="", KAPU_DATABASE_URL=postgres_server.url(name))
        app = create_app(config)
        made.append(app)
        return app

    yield build
    for app in made:
        db.close_all(app.extensions["kapu_database"])


def test_postgresql_backup_and_restore_into_a_fresh_database_then_the_mailed_code_activates(
    postgres_server, postgres_app, tmp_path
):
    first, second = postgres_server.create_database(), postgres_server.create_database()
    old = postgres_app(tmp_path / "old", first)
    register_citizen(old, language="en", channel="office")
    code = Mailbox(old).last_code()
    target = tmp_path / "kapu-backup.tar"
    result = old.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "database and its secret key" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with tarfile.open(target) as archive:
        assert sorted(archive.getnames()) == ["kapu.pgdump", "schema_version", "secret_key"]

    fresh = postgres_app(tmp_path / "new", second)  # another machine: its own key, an empty database
    result = fresh.test_cli_runner().invoke(args=["restore", str(target)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "secret_key").read_bytes() == (tmp_path / "old" / "secret_key").read_bytes()
    restored = postgres_app(tmp_path / "new", second)  # the server started again
    assert Auth.of(restored).activate(code).status_code == 200
    with restored.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "active"

    refused = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert refused.exit_code != 0 and "--force" in refused.output
    forced = restored.test_cli_runner().invoke(args=["restore", "--force", str(target)])
    assert forced.exit_code == 0, forced.output
    with restored.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "pending"  # as it was at the backup
    broken = tmp_path / "broken.tar"  # a dump pg_restore stops on: what was there stays
    with tarfile.open(broken, "w") as archive:
        for member, data in (("kapu.pgdump", b"PGDMP not really"), ("schema_version", b"1")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    failed = restored.test_cli_runner().invoke(args=["restore", "--force", str(broken)])
    assert failed.exit_code != 0 and "pg_restore failed" in failed.output
    with restored.app_context():
        assert Account.get(Account.username == "kovacs.janos").status == "pending"
    missing = restored.test_cli_runner().invoke(args=["restore", "--force", str(tmp_path / "missing.tar")])
    assert missing.exit_code != 0 and "not a backup file" in missing.output
    for name in (first, second):
        postgres_server.drop_database(name)


def test_postgresql_restore_of_an_older_backup_then_migrate(postgres_server, postgres_app, tmp_path):
    """A backup made before an upgrade goes into a database already at the latest schema, and migrates again."""
    older, current = postgres_server.create_database(), postgres_server.create_database()
    database = db.open_database(postgres_server.url(older))
    try:
        migrations._apply(database, migrations.steps()[:1])  # as the first release left it
    finally:
        db.close_all(database)
    target = tmp_path / "old.tar"
    operations.backup_postgres(postgres_server.url(older), 1, None, str(target))
    app = postgres_app(tmp_path / "data", current)  # the latest schema, no data
    result = app.test_cli_runner().invoke(args=["restore", str(target)])
    assert result.exit_code == 0, result.output
    assert "run `migrate` first" in result.output
    assert app.test_cli_runner().invoke(args=["migrate"]).exit_code == 0
    with app.app_context():
        assert migrations.current_version(app.extensions["kapu_database"]) == migrations.latest()
    for name in (older, current):
        postgres_server.drop_database(name)
