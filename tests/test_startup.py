"""What every process pays at start (each command, each server and the one-file binary's cold start): kept small."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher

from app import create_app
from domain import accounts
from tests.served import ROOT, clean_environment

# Each is needed only by some requests or commands, and costs 0.05-0.3 s or 5-15 MB to import.
LOADED_ON_FIRST_USE = ("zxcvbn", "markdown_it", "email_validator", "confusable_homoglyphs", "playhouse.db_url")


def test_building_the_app_hashes_nothing_and_an_unknown_name_costs_a_real_hash_made_once(app_config, monkeypatch):
    hashed = []
    real_hash = PasswordHasher.hash

    def counting_hash(self, password, *, salt=None):
        hashed.append(password)
        return real_hash(self, password, salt=salt)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    app = create_app(app_config)
    assert hashed == []

    services = app.extensions["kapu"]
    with app.app_context():
        assert accounts.authenticate(services, "nobody.here", "kerekes kút mellett áll a nyírfa") is None
        assert len(hashed) == 1  # the decoy the unknown name was verified against
        assert accounts.authenticate(services, "nobody.else", "kerekes kút mellett áll a nyírfa") is None
    assert len(hashed) == 1
    assert services.decoy_hash.startswith("$argon2id$")


def test_starting_the_app_leaves_the_first_use_modules_unloaded(tmp_path):
    script = ("import sys; import app; app.create_app(); "
              f"print(' '.join(m for m in {LOADED_ON_FIRST_USE!r} if m in sys.modules))")
    env = clean_environment(KAPU_DATA_DIR=str(tmp_path))
    loaded = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == []
