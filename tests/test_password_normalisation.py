"""Passwords are NFKC-normalised before hashing and verifying; hashes from before that still log in."""

import unicodedata

from models import Account, AuditEvent
from tests.support.helpers import FAST_HASHER

USERNAME = "kovacs.janos"
NFC = unicodedata.normalize("NFC", "árvíztűrő tükörfúrógép és fűzfa")
NFD = unicodedata.normalize("NFD", NFC)


def stored_hash(app):
    with app.app_context():
        return Account.get(Account.username == USERNAME).password_hash


def test_nfc_set_nfd_typed_logs_in(app, client, registered, auth):
    assert NFC != NFD
    assert auth.activate(password=NFC).status_code == 200
    assert auth.login(password=NFD).status_code == 303


def test_nfd_set_nfc_typed_logs_in(app, client, registered, auth):
    assert auth.activate(password=NFD).status_code == 200
    assert FAST_HASHER.verify(stored_hash(app), NFC)  # what is stored is the normalised form
    assert auth.login(password=NFC).status_code == 303


def test_a_hash_from_before_normalisation_logs_in_and_is_rehashed(app, client, registered, auth):
    assert auth.activate(password=NFC).status_code == 200
    with app.app_context():  # what the earlier code stored when the password was typed decomposed
        Account.update(password_hash=FAST_HASHER.hash(NFD)).where(Account.username == USERNAME).execute()
    assert auth.login(password=NFD).status_code == 303
    assert FAST_HASHER.verify(stored_hash(app), NFC)
    with app.app_context():
        assert AuditEvent.select().where(AuditEvent.kind == "login", AuditEvent.outcome == "rehashed").exists()
    assert auth.login(password=NFC, client=app.test_client()).status_code == 303


def test_a_wrong_password_still_fails(registered, auth):
    assert auth.activate(password=NFC).status_code == 200
    assert auth.login(password=NFD[:-1]).status_code == 401
