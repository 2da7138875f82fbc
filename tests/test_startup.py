"""What every process pays at start (each command, each server and the one-file binary's cold start): kept small."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import PasswordHasher

import db
from app import create_app
from domain.auth import authenticate
from tests.served import ROOT, clean_environment

# Each is needed only by some requests or commands, and costs 0.05-0.3 s or 5-15 MB to import.
LOADED_ON_FIRST_USE = ("zxcvbn_rs_py", "markdown_it", "email_validator", "confusable_homoglyphs", "playhouse.db_url")


def test_building_the_app_hashes_nothing_and_an_unknown_name_is_verified_like_a_wrong_password(app_config, monkeypatch):
    hashed, verified = [], []
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def counting_hash(self, password, *, salt=None):
        hashed.append(password)
        return real_hash(self, password, salt=salt)

    def counting_verify(self, stored, password):
        verified.append(stored)
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    app = create_app(app_config)
    assert hashed == []

    services = app.extensions["kapu"]
    with app.app_context():
        assert authenticate(services, "nobody.here", "kerekes kút mellett áll a nyírfa") is None
    # No hash made for the miss (the first miss costs what every other one does): one argon2id verification,
    # against a hash carrying the hasher's own cost parameters.
    assert hashed == []
    assert verified == [services.decoy_hash]
    hasher = services.hasher
    assert services.decoy_hash.startswith(
        f"$argon2id$v=19$m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}$"
    )


def test_the_decoy_costs_the_same_argon2_work_as_a_real_hash_and_matches_nothing():
    from domain import passwords

    hasher = passwords.new_hasher()
    decoy, real = passwords.decoy_hash(hasher), hasher.hash("kerekes kút mellett áll a nyírfa")
    assert decoy.split("$")[1:4] == real.split("$")[1:4]  # argon2id, version, m/t/p: the whole cost
    assert [len(part) for part in decoy.split("$")[4:]] == [len(part) for part in real.split("$")[4:]]
    assert passwords.verify(hasher, decoy, "kerekes kút mellett áll a nyírfa") == (False, None)
    assert passwords.decoy_hash(hasher) != decoy


@pytest.mark.slow  # starts Python as a process
def test_starting_the_app_leaves_the_first_use_modules_unloaded(tmp_path):
    script = (
        "import sys; import app; app.create_app(); "
        f"print(' '.join(m for m in {LOADED_ON_FIRST_USE!r} if m in sys.modules))"
    )
    env = clean_environment(KAPU_DATA_DIR=str(tmp_path))
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == []


@pytest.mark.sqlite_only
def test_a_start_on_a_current_database_only_reads_it(make_app, app_config, monkeypatch):
    """Every worker and command starts by checking the schema and the shipped help articles: when nothing is
    missing, that takes no write lock (it would queue behind, and hold up, the running servers' writers)."""
    make_app()  # the schema and the shipped articles are in place
    statements = []
    real_hooks = db._WalSqliteDatabase._add_conn_hooks

    def traced(database, connection):
        connection.set_trace_callback(statements.append)
        real_hooks(database, connection)

    monkeypatch.setattr(db._WalSqliteDatabase, "_add_conn_hooks", traced)
    create_app(app_config)
    assert any(sql.startswith("SELECT") for sql in statements)
    assert [sql for sql in statements if sql.split()[0].upper() in {"BEGIN", "INSERT", "UPDATE", "DELETE"}] == []
