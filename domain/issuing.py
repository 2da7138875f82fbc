"""Issuing one-time codes and their signed links: a new code voids every older one of the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import audit, clock, codes, outbox
from models import OneTimeCode

MAIL_KIND = {"activation": "activation_code", "reset": "reset_code"}


def activation_link(kapu, token: str) -> str:
    return f"{kapu.base_url}/activate/{token}"


@dataclass(frozen=True)
class Issued:
    code: OneTimeCode
    link: str  # holds the code: it goes into the sealed outbox and, for the demo only, to the console


def issue_code(kapu, account, purpose, client=None, actor=None) -> Issued:
    """Void the account's live codes, store a new one as a keyed hash, and mail it; inside a transaction."""
    now = clock.now()
    OneTimeCode.update(voided_at=now, void_reason="superseded").where(
        OneTimeCode.account == account, OneTimeCode.used_at.is_null(), OneTimeCode.voided_at.is_null()
    ).execute()
    code = codes.generate()
    row = OneTimeCode.create(
        account=account,
        code_hash=codes.keyed_hash(kapu.code_key, code),
        purpose=purpose,
        created_at=now,
        expires_at=now + timedelta(seconds=kapu.code_ttl),
    )
    link = activation_link(kapu, kapu.activation_links.sign({"c": row.id, "k": code}))
    kind = MAIL_KIND[purpose]
    subject, text, html = kapu.compose(
        kind,
        account.language,
        account=account,
        code=codes.display(code),
        link=link,
        deadline=row.expires_at,
    )
    outbox.enqueue(kapu, kind, account.email, subject, text, html, account=account)
    audit.record("code_issued", purpose, account=account, client=client, actor=actor)
    return Issued(row, link)


def is_row_id(value) -> bool:
    return type(value) is int and 0 < value < 2**63


@dataclass(frozen=True)
class LinkState:
    status: str  # valid | expired | invalid | used
    code: str | None = None
    deadline: datetime | None = None


def inspect_link(kapu, token, client=None) -> LinkState:
    """What an activation link is worth now. Reads only (plus an audit line): opening it consumes nothing."""
    check = kapu.activation_links.check(token)
    if check.status == "expired":
        return LinkState("expired")
    data = check.data if check.status == "valid" else None
    if not isinstance(data, dict) or not is_row_id(data.get("c")) or not isinstance(data.get("k"), str):
        return LinkState("invalid")
    code = codes.normalise(data["k"])
    row = OneTimeCode.get_or_none(OneTimeCode.id == data["c"])
    if code is None or row is None or not codes.matches(kapu.code_key, code, row.code_hash):
        return LinkState("invalid")
    if row.used_at is not None or row.voided_at is not None:
        state = LinkState("used")
    elif row.expires_at <= clock.now():
        state = LinkState("expired")
    else:
        state = LinkState("valid", codes.display(code), row.expires_at)
    audit.record("link_opened", state.status, account=row.account_id and row.account, client=client)
    return state
