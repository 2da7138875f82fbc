"""Passwords are NFKC-normalised before hashing and verifying; hashes from before that still log in."""

import unicodedata

import pytest

from models import Account, AuditEvent
from tests.support.helpers import FAST_HASHER

USERNAME = "kovacs.janos"
NFC = unicodedata.normalize("NFC", "árvíztűrő tükörfúrógép és fűzfa")
NFD = unicodedata.normalize("NFD", NFC)


@pytest.fixture
def activate(client, csrf, mailbox, registered):
    def post(password):
        return client.post("/activate", data={"csrf_token": csrf(), "username": USERNAME,
                                              "code": mailbox.last_code(), "password": password,
                                              "password_confirm": password})

    return post


def login(client, csrf, password):
    return client.post("/login", data={"csrf_token": csrf("/login"), "username": USERNAME, "password": password})


def stored_hash(app):
    with app.app_context():
        return Account.get(Account.username == USERNAME).password_hash


def test_nfc_set_nfd_typed_logs_in(app, client, csrf, activate):
    assert NFC != NFD
    assert activate(NFC).status_code == 200
    assert login(client, csrf, NFD).status_code == 303


def test_nfd_set_nfc_typed_logs_in(app, client, csrf, activate):
    assert activate(NFD).status_code == 200
    assert FAST_HASHER.verify(stored_hash(app), NFC)  # what is stored is the normalised form
    assert login(client, csrf, NFC).status_code == 303


def test_a_hash_from_before_normalisation_logs_in_and_is_rehashed(app, client, csrf, activate):
    assert activate(NFC).status_code == 200
    with app.app_context():  # what the earlier code stored when the password was typed decomposed
        Account.update(password_hash=FAST_HASHER.hash(NFD)).where(Account.username == USERNAME).execute()
    assert login(client, csrf, NFD).status_code == 303
    assert FAST_HASHER.verify(stored_hash(app), NFC)
    with app.app_context():
        assert AuditEvent.select().where(AuditEvent.kind == "login", AuditEvent.outcome == "rehashed").exists()
    fresh = app.test_client()
    assert login(fresh, lambda path: _token(fresh, path), NFC).status_code == 303


def _token(client, path):
    from tests.support.helpers import csrf_token

    return csrf_token(client, path)


def test_a_wrong_password_still_fails(client, csrf, activate):
    assert activate(NFC).status_code == 200
    assert login(client, csrf, NFD[:-1]).status_code == 401
