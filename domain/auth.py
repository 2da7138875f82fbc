"""Login: the active account for a username and password, with the same argon2 work for names that do not exist."""

from __future__ import annotations

from domain import audit, passwords
from domain.registration import normalise_username
from models import Account, database


def authenticate(services, username, password, client=None):
    """The active account for these credentials, or None; unknown names cost the same argon2 work.

    argon2 runs before any transaction, so a login never holds the write lock while it hashes.
    """
    name = normalise_username(username)
    account = Account.by_username(name)
    stored = account.password_hash if account is not None and account.is_active else None
    ok, new_hash = passwords.verify(services.hasher, stored or services.decoy_hash, password)
    if account is None or stored is None or not ok:
        with database.atomic():
            audit.record("login", "failed", account=account, username=name[:64], client=client)
        return None
    with database.atomic():
        if new_hash:
            # Only over the hash just verified: a password changed meanwhile is never written back.
            rehashed = (
                Account.update(password_hash=new_hash)
                .where(Account.id == account.id, Account.password_hash == stored)
                .execute()
            )
            new_hash = new_hash if rehashed == 1 else None
        audit.record("login", "rehashed" if new_hash else "success", account=account, client=client)
    if new_hash:
        account.password_hash = new_hash
    return account
