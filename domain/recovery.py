"""Forgotten password: a new code for a matching username and e-mail, and the same answer otherwise."""

from __future__ import annotations

import hmac
import secrets

from domain import audit, clock, issuing
from domain.registration import normalise_username
from models import Account, database

# Compared against on the miss path, so a match and a miss do the same comparison work.
_DECOY_ADDRESS = "nobody@decoy.invalid"


def _same_address(stored: str, typed: str) -> bool:
    return hmac.compare_digest(stored.casefold().encode(), typed.casefold().encode())


def _recoverable(account) -> bool:
    """Citizens only: staff have no identification e-mail and their credentials are set on the command line."""
    return account is not None and not account.is_staff and bool(account.email)


def request_new_code(services, username, email, language, client=None) -> bool:
    """Mail a new code (voiding earlier ones) when *username* and *email* match a citizen's account.

    Every other case (unknown name, wrong address, a staff name) does the very same work, rolled back,
    so neither the answer nor its timing says which case it was.
    """
    name = normalise_username(username)
    with database.atomic():
        account = Account.by_username(name)
        recoverable = _recoverable(account)
        matched = _same_address(account.email if recoverable else _DECOY_ADDRESS, email) and recoverable
        with database.atomic() as attempt:
            target = account if matched else _decoy_account(language)
            # Written in the language the citizen asked in, not the one they registered in.
            issuing.issue_code(services, target, "reset", client=client, language=language)
            if not matched:
                attempt.rollback(begin=False)  # the decoy, its code, its sealed mail and their audit line all go
        if matched:
            audit.record("forgotten_password", "code_sent", account=account, client=client)
        else:
            audit.record("forgotten_password", "no_match", username=name[:64], client=client)
        return matched


def _decoy_account(language):
    """A throw-away account row, so the miss path writes the same rows as a match (then rolls them back)."""
    return Account.create(
        username=f"-decoy-{secrets.token_hex(8)}",
        display_username="-",
        full_name="-",
        email=_DECOY_ADDRESS,
        language=language,
        channel="online",
        created_at=clock.now(),
    )
