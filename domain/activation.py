"""Activation: a username, its live one-time code and a new password open the account, in one transaction."""

from __future__ import annotations

import enum

from domain import audit, clock, codes
from domain.accounts import normalise_username
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


def activate(kapu, username, typed_code, password, client=None) -> Outcome:
    code = codes.normalise(typed_code)
    with database.atomic():
        account = Account.by_username(normalise_username(username))
        recent = list(OneTimeCode.for_account(account).limit(_RECENT_CODES)) if account else []
        if code is None or account is None:
            codes.matches(kapu.code_key, code or "", "0" * 64)  # same HMAC work on the miss path
            audit.record("activation", "invalid", account=account, username=normalise_username(username)[:64],
                         client=client)
            return Outcome.INVALID
        # Compare against every recent code (constant time each) so timing does not say which matched.
        hits = [row for row in recent if codes.matches(kapu.code_key, code, row.code_hash)]
        if not hits:
            return _count_wrong_code(kapu, account, recent, client)
        row = hits[0]
        outcome = _refusal_for(row, kapu)
        if outcome is not None:
            audit.record("activation", outcome.value, account=account, client=client)
            return outcome
        _open_account(kapu, account, row, password)
        audit.record("activation", "success", account=account, client=client, detail=row.purpose)
        return Outcome.ACTIVATED


def _refusal_for(row, kapu):
    if row.used_at is not None:
        return Outcome.USED
    if row.voided_at is not None:
        return Outcome.LOCKED if row.void_reason == "attempts" else Outcome.SUPERSEDED
    if row.failed_attempts >= kapu.max_attempts:
        return Outcome.LOCKED
    if row.expires_at <= clock.now():
        return Outcome.EXPIRED
    return None


def _count_wrong_code(kapu, account, recent, client):
    """Count a wrong try against the live code; voiding it is not announced, so nobody learns the name exists."""
    live = next((row for row in recent if row.used_at is None and row.voided_at is None), None)
    outcome = "wrong_code"
    if live is not None and live.expires_at > clock.now():
        live.failed_attempts += 1
        if live.failed_attempts >= kapu.max_attempts:
            live.voided_at, live.void_reason = clock.now(), "attempts"
            outcome = "code_voided"
        live.save()
    audit.record("activation", outcome, account=account, client=client)
    return Outcome.INVALID


def _open_account(kapu, account, row, password):
    now = clock.now()
    row.used_at = now
    row.save()
    account.password_hash = kapu.hasher.hash(password)
    if account.status != "active":
        account.status, account.activated_at = "active", now
    # A new password ends every session opened with the old one.
    account.session_version += 1
    account.save()
