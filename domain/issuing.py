"""Issuing one-time codes and their signed links: a new code voids every older one of the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import db
from domain import audit, clock, codes, outbox
from models import Account, OneTimeCode, database

MAIL_KIND = {"activation": "activation_code", "reset": "reset_code"}


def activation_link(services, token: str) -> str:
    return f"{services.base_url}/activate/{token}"


@dataclass(frozen=True)
class Issued:
    code: OneTimeCode
    link: str  # carries the code encrypted; it goes into the sealed outbox and, for the demo only, to the console


class NoCodesForStaff(ValueError):
    """Staff sign in with credentials set on the command line: no code may ever reset them."""


def issue_code(services, account, purpose, client=None, actor=None, language=None) -> Issued:
    """Void the account's live codes, store a new one as a salted keyed hash, and mail it; inside a transaction."""
    if account.is_staff:
        raise NoCodesForStaff(account.username)
    with database.atomic():  # the caller's transaction, or its own
        # Per account, one at a time: two at once would each void only the older codes and leave two live.
        db.lock_key(database, f"codes:{account.id}")
        return _issue_code(services, account, purpose, client, actor, language or account.language)


def _issue_code(services, account, purpose, client, actor, language) -> Issued:
    now = clock.now()
    OneTimeCode.update(voided_at=now, void_reason="superseded").where(
        OneTimeCode.account == account, OneTimeCode.used_at.is_null(), OneTimeCode.voided_at.is_null()
    ).execute()
    code, salt = codes.generate(), codes.new_salt()
    row = OneTimeCode.create(
        account=account,
        code_hash=codes.keyed_hash(services.code_key, code, salt),
        code_salt=salt,
        purpose=purpose,
        created_at=now,
        expires_at=now + timedelta(seconds=services.code_ttl),
    )
    link = activation_link(services, services.activation_links.make(row.id, code))
    kind = MAIL_KIND[purpose]
    subject, text, html = services.compose(
        kind,
        language,
        account=account,
        code=codes.display(code),
        link=link,
        deadline=row.expires_at,
    )
    outbox.enqueue(services, kind, account.email, subject, text, html, account=account)
    audit.record("code_issued", purpose, account=account, client=client, actor=actor)
    return Issued(row, link)


def is_row_id(value) -> bool:
    return type(value) is int and 0 < value < 2**63


@dataclass(frozen=True)
class LinkState:
    status: str  # valid | expired | invalid | used
    code: str | None = None
    deadline: datetime | None = None
    account: object = None  # the code's account (for the audit line), when the link named a real code


# Every opened link and every page view after it reads this: one statement, built once (db.Statement).
_LINKED_CODE = db.Statement(
    lambda row_id: (
        OneTimeCode.select(
            OneTimeCode.code_hash,
            OneTimeCode.code_salt,
            OneTimeCode.used_at,
            OneTimeCode.voided_at,
            OneTimeCode.expires_at,
            Account.id,
            Account.username,
        )
        .join(Account)
        .where(OneTimeCode.id == row_id)
    )
)


def inspect_link(services, token) -> LinkState:
    """What an activation link is worth now; reads only, so it can be asked again on every page view."""
    check = services.activation_links.read(token)
    if check.status != "valid":
        return LinkState(check.status)
    code = codes.normalise(check.data.code)
    found = _LINKED_CODE.run(database, check.data.row_id).fetchone()
    if found is None or code is None:
        return LinkState("invalid")
    code_hash, code_salt, used_at, voided_at, expires_at, account_id, username = found
    if check.data.readable and code_salt is not None:
        return LinkState("invalid")  # a salted code was never mailed in the released, readable shape
    if not codes.matches(services.code_key, code, code_hash, code_salt):
        return LinkState("invalid")
    account = Account(id=account_id, username=username)  # what the audit line names
    if used_at is not None or voided_at is not None:
        return LinkState("used", account=account)
    expires_at = OneTimeCode.expires_at.python_value(expires_at)
    if expires_at <= clock.now():
        return LinkState("expired", account=account)
    return LinkState("valid", codes.display(code), expires_at, account)


def open_link(services, token, client=None) -> LinkState:
    """A citizen (or a mail scanner) opened the link: nothing is consumed, the opening is audited.

    The audit line is written like a rate-limit counter (its commit does not wait for the disk): a mass mailing's
    wave of openings must not queue on one disk flush each, and a power cut may lose the last few such lines only.
    """
    state = inspect_link(services, token)
    record_opening(state, client)
    return state


def record_opening(state: LinkState, client=None):
    """The opening's audit line (see open_link), for a link already inspected."""
    with db.counter_transaction(database):
        audit.record("link_opened", state.status, account=state.account, client=client)
