"""Activation: a username, its live one-time code and a new password open the account.

The code is checked and the password hashed before any transaction; the write that follows is short and
conditional on the code still being live, so two requests racing for one code cannot both win (on SQLite
or PostgreSQL) and the loser is told what happened to the code.
"""

from __future__ import annotations

import enum

from peewee import fn

from domain import audit, clock, codes, sessions
from domain.registration import normalise_username
from models import Account, OneTimeCode, database

# How many of an account's recent codes are searched to tell "used" or "superseded" from "wrong".
_RECENT_CODES = 10


class Outcome(enum.Enum):
    ACTIVATED = "activated"
    INVALID = "invalid"  # unknown username or wrong code: one answer, no hint which
    USED = "used"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    LOCKED = "locked"  # too many wrong codes: this code is void


def activate(services, username, typed_code, password, client=None) -> Outcome:
    code = codes.normalise(typed_code)
    account = Account.by_username(normalise_username(username))
    recent = list(OneTimeCode.for_account(account).limit(_RECENT_CODES)) if account else []
    if code is None or account is None:
        codes.matches(services.code_key, code or "", "0" * 64)  # same HMAC work on the miss path
        with database.atomic():
            audit.record(
                "activation", "invalid", account=account, username=normalise_username(username)[:64], client=client
            )
        return Outcome.INVALID
    # Compare against every recent code (constant time each) so timing does not say which matched.
    hits = [row for row in recent if codes.matches(services.code_key, code, row.code_hash, row.code_salt)]
    if not hits:
        return _count_wrong_code(services, account, recent, client)
    row = hits[0]
    outcome = _refusal_for(row, services)
    if outcome is None:
        password_hash = services.hasher.hash(password)  # slow: outside the transaction
        outcome = _open_account(services, account, row, password_hash, client)
    if outcome is not Outcome.ACTIVATED:
        with database.atomic():
            audit.record("activation", outcome.value, account=account, client=client)
    return outcome


def _refusal_for(row, services):
    if row.used_at is not None:
        return Outcome.USED
    if row.voided_at is not None:
        return Outcome.LOCKED if row.void_reason == "attempts" else Outcome.SUPERSEDED
    if row.failed_attempts >= services.max_attempts:
        return Outcome.LOCKED
    if row.expires_at <= clock.now():
        return Outcome.EXPIRED
    return None


def _still_live(services, now):
    """The conditions under which a code may still be used or counted, evaluated by the database."""
    return (
        OneTimeCode.used_at.is_null()
        & OneTimeCode.voided_at.is_null()
        & (OneTimeCode.failed_attempts < services.max_attempts)
        & (OneTimeCode.expires_at > now)
    )


def _count_wrong_code(services, account, recent, client):
    """Count a wrong try against the live code; voiding it is not announced, so nobody learns the name exists.

    The count is one atomic increment on the still-live row, so parallel wrong tries are each counted once.
    """
    live = next((row for row in recent if row.used_at is None and row.voided_at is None), None)
    outcome = "wrong_code"
    with database.atomic():
        now = clock.now()
        if live is not None:
            counted = (
                OneTimeCode.update(failed_attempts=OneTimeCode.failed_attempts + 1)
                .where(OneTimeCode.id == live.id, _still_live(services, now))
                .execute()
            )
            if (
                counted
                and OneTimeCode.update(voided_at=now, void_reason="attempts")
                .where(
                    OneTimeCode.id == live.id,
                    OneTimeCode.voided_at.is_null(),
                    OneTimeCode.used_at.is_null(),
                    OneTimeCode.failed_attempts >= services.max_attempts,
                )
                .execute()
            ):
                outcome = "code_voided"
        audit.record("activation", outcome, account=account, client=client)
    return Outcome.INVALID


def _open_account(services, account, row, password_hash, client) -> Outcome:
    """Use the code only if it is still live; open the account only if that took exactly this one row."""
    with database.atomic():
        now = clock.now()
        used = OneTimeCode.update(used_at=now).where(OneTimeCode.id == row.id, _still_live(services, now)).execute()
        if used != 1:
            # Lost a race (used, superseded, voided or expired meanwhile): read what happened to the code.
            current = OneTimeCode.get_or_none(OneTimeCode.id == row.id)
            return (_refusal_for(current, services) or Outcome.USED) if current else Outcome.INVALID
        Account.update(
            password_hash=password_hash,
            status="active",
            activated_at=fn.COALESCE(Account.activated_at, now),
            # A new password ends every session opened with the old one, and any pending e-mail change.
            session_version=Account.session_version + 1,
            email_change_nonce=None,
        ).where(Account.id == account.id).execute()
        sessions.end_all(account.id)  # a reset ends every session, wherever it was opened
        audit.record("activation", "success", account=account, client=client, detail=row.purpose)
    return Outcome.ACTIVATED
