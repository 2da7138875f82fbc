"""Fixtures: a fresh app per test on an empty database (SQLite, then PostgreSQL), a client, a CLI runner, a clock
and the outbox.

Every test that builds an app (through `app_config`) runs on both databases: `[sqlite]` on its own file,
`[postgresql]` on a real server the session starts (tests/postgres_server.py). `--databases=sqlite` narrows a run;
`@pytest.mark.sqlite_only` keeps a test that inspects the SQLite file itself to SQLite.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

import db
from app import create_app
from cli import prepare_database
from domain import clock, offices, outbox
from models import OutboxMessage
from tests.postgres_server import PostgresServer, server_binaries

# Cheap argon2id parameters keep the suite fast; production uses argon2-cffi's RFC 9106 profile.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
STRONG_PASSWORD = "kerekes kút mellett áll a nyírfa"


DATABASES = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption("--databases", default=",".join(DATABASES),
                     help="comma-separated databases to run the app tests on (default: %(default)s)")


def pytest_collection_modifyitems(items):
    """`slow` (left out of `make test-fast`): a browser, the built binary, PostgreSQL, or a mark of the test's own
    (a server or command-line process, kill -9, a timing measurement)."""
    for item in items:
        on_postgres = getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "postgresql"
        if on_postgres or item.get_closest_marker("browser") or item.get_closest_marker("dist"):
            item.add_marker(pytest.mark.slow)


def pytest_generate_tests(metafunc):
    if "database_url" not in metafunc.fixturenames:
        return
    kinds = [k for k in metafunc.config.getoption("databases").split(",") if k in DATABASES]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        kinds = [k for k in kinds if k == "sqlite"]
    metafunc.parametrize("database_url", kinds, indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole run; missing binaries fail under CI and skip elsewhere."""
    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries are missing: install Debian's postgresql package"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(binaries).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_test_database(postgres_server):
    return postgres_server.create_database()


@pytest.fixture
def database_url(request, tmp_path, monkeypatch):
    """An empty database of the kind the test is parametrised with; every connection the test opened is closed."""
    opened = []
    real_open = db.open_database

    def open_and_remember(url):
        database = real_open(url)
        opened.append(database)
        return database

    monkeypatch.setattr(db, "open_database", open_and_remember)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kapu.db'}"
    else:
        server, name = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_test_database")
        yield server.url(name)
    for database in opened:
        db.close_all(database)
    if request.param == "postgresql":
        server.empty_database(name)


@pytest.fixture
def app_config(database_url):
    return {
        "TESTING": True,
        "KAPU_DATABASE_URL": database_url,
        "KAPU_SECRET_KEY": "test-secret-key-that-is-long-enough",
        "KAPU_BASE_URL": "http://kapu.test",
        "KAPU_SMTP_HOST": "",
        # Assertions read English messages; tests/test_i18n.py covers the Hungarian default.
        "KAPU_LANGUAGE": "en",
        "PASSWORD_HASHER": FAST_HASHER,
    }


@pytest.fixture
def app(app_config, tmp_path):
    app = create_app(app_config)
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        prepare_database()
        offices.seed_demo_offices()
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def kapu(app):
    return app.extensions["kapu"]


class FrozenClock:
    """Moves domain time forward without sleeping."""

    def __init__(self, monkeypatch):
        self.offset = timedelta()
        real_now = clock.now
        monkeypatch.setattr(clock, "now", lambda: real_now() + self.offset)

    def advance(self, **kwargs):
        self.offset += timedelta(**kwargs)


@pytest.fixture
def frozen_clock(monkeypatch):
    return FrozenClock(monkeypatch)


class Mailbox:
    """Reads the outbox the way a citizen reads their mail (the sealed bodies, opened)."""

    def __init__(self, app):
        self.app = app

    def messages(self, recipient=None):
        with self.app.app_context():
            query = OutboxMessage.select().order_by(OutboxMessage.id)
            if recipient:
                query = query.where(OutboxMessage.recipient == recipient)
            kapu = self.app.extensions["kapu"]
            return [(m, outbox.unseal(kapu, m)["text"]) for m in query]

    def last_text(self, recipient=None):
        return self.messages(recipient)[-1][1]

    def last_code(self, recipient=None):
        return re.search(r"\b([2-9A-Z]{5}-[2-9A-Z]{5})\b", self.last_text(recipient)).group(1)

    def last_link(self, recipient=None):
        return re.search(r"http://kapu\.test(/activate/\S+)", self.last_text(recipient)).group(1)


@pytest.fixture
def mailbox(app):
    return Mailbox(app)


def csrf_token(client, path="/activate"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.fixture
def csrf(client):
    return lambda path="/activate": csrf_token(client, path)


@pytest.fixture
def registered(kapu, app):
    """A pending registration made at an office, as a clerk would."""
    from domain import accounts

    with app.test_request_context():
        return accounts.register(
            kapu, username="kovacs.janos", full_name="Kovács János", email="janos@example.hu",
            language="hu", channel="office", office="BP-V-OKM",
        )
