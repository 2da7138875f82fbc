"""Login sessions kept on the server: the cookie carries a random id, the database only its hash.

So a session can be ended where it matters: logout deletes it (a copied cookie stops working), a new
password deletes every other one, and idle and absolute timeouts are checked against the stored times.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from domain import clock
from models import Account, LoginSession, database

CITIZEN_IDLE, CITIZEN_ABSOLUTE = timedelta(minutes=30), timedelta(hours=12)
STAFF_IDLE, STAFF_ABSOLUTE = timedelta(minutes=15), timedelta(hours=8)
# "Last seen" is written at most this often, so browsing is not a write per page.
TOUCH_EVERY = timedelta(seconds=60)
_MAX_TOKEN_LENGTH = 128


def timeouts(account) -> tuple[timedelta, timedelta]:
    """(idle, absolute): staff sessions are shorter, as they act on other people's registrations."""
    return (STAFF_IDLE, STAFF_ABSOLUTE) if account.is_staff else (CITIZEN_IDLE, CITIZEN_ABSOLUTE)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def start(account) -> str:
    """A new session for *account* (just authenticated); returns the id for the cookie."""
    token, now = _new_token(), clock.now()
    idle, absolute = timeouts(account)
    with database.atomic():
        LoginSession.create(
            token_hash=_digest(token),
            account=account.id,
            session_version=account.session_version,
            created_at=now,
            seen_at=now,
        )
        LoginSession.delete().where(  # this account's sessions that have timed out
            LoginSession.account == account.id,
            (LoginSession.seen_at < now - idle) | (LoginSession.created_at < now - absolute),
        ).execute()
    return token


def resume(token) -> Account | None:
    """The account of a live session, or None (and the session is deleted when it has ended)."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    row = (
        LoginSession.select(LoginSession, Account)
        .join(Account)
        .where(LoginSession.token_hash == _digest(token))
        .first()
    )
    if row is None:
        return None
    account, now = row.account, clock.now()
    idle, absolute = timeouts(account)
    if row.session_version != account.session_version or now - row.seen_at > idle or now - row.created_at > absolute:
        end(token)
        return None
    if now - row.seen_at >= TOUCH_EVERY:
        with database.atomic():
            LoginSession.update(seen_at=now).where(LoginSession.id == row.id).execute()
    return account


def end(token):
    """Logout: this session ends on the server, wherever its cookie has been copied."""
    if isinstance(token, str) and token:
        with database.atomic():
            LoginSession.delete().where(LoginSession.token_hash == _digest(token)).execute()


def end_all(account_id):
    """Every session of the account ends; call inside the transaction that changes the password."""
    LoginSession.delete().where(LoginSession.account == account_id).execute()


def renew(account_id, token, session_version) -> str | None:
    """After a password change: every other session ends, this one gets a new id and the new version.

    Call inside the transaction that changed the password. None when this session no longer exists.
    """
    LoginSession.delete().where(
        LoginSession.account == account_id, LoginSession.token_hash != _digest(token or "")
    ).execute()
    new_token = _new_token()
    renewed = (
        LoginSession.update(token_hash=_digest(new_token), session_version=session_version)
        .where(LoginSession.account == account_id, LoginSession.token_hash == _digest(token or ""))
        .execute()
    )
    return new_token if renewed == 1 else None


def ended_by_time(now):
    """Sessions idle past even the longest idle timeout: no request can resume them (for the retention purge).

    One indexed column: a session past its absolute timeout is never touched again, so it is idle soon after."""
    return LoginSession.seen_at < now - max(CITIZEN_IDLE, STAFF_IDLE)
