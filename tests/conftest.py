"""Fixtures: a fresh app on its own SQLite file per test, a client, a CLI runner, a clock and the outbox."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from app import create_app
from cli import prepare_database
from domain import clock, offices, outbox
from models import OutboxMessage

# Cheap argon2id parameters keep the suite fast; production uses argon2-cffi's RFC 9106 profile.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
STRONG_PASSWORD = "kerekes kút mellett áll a nyírfa"


@pytest.fixture
def app_config(tmp_path):
    return {
        "TESTING": True,
        "KAPU_DATABASE_URL": f"sqlite:///{tmp_path / 'kapu.db'}",
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
    app.extensions["kapu_database"].close()


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
