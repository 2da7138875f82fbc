"""Audit events: time, account, client address, outcome. Never a password or a code."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import db
from domain import clock
from models import AuditEvent, database

_listeners = []
# Control characters (NUL above all: PostgreSQL text refuses it) never reach the log, whatever a request carried.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(value, limit):
    return _CONTROL.sub("\ufffd", value or "")[:limit] or None


def listen(listener):
    """Call *listener(kind, outcome)* for every event recorded (metrics count activations and failed logins)."""
    if listener not in _listeners:
        _listeners.append(listener)


# Most requests that change anything write one of these: its SQL is built once (db.Statement).
_INSERT = db.Statement(
    lambda at, kind, outcome, account_id, username, client, actor, detail: AuditEvent.insert(
        at=at,
        kind=kind,
        outcome=outcome,
        account=account_id,
        username=username,
        client_address=client,
        actor=actor,
        detail=detail,
    )
)


def record(kind, outcome, *, account=None, username=None, client=None, actor=None, detail=None):
    for listener in _listeners:
        listener(kind, outcome)
    _INSERT.run(
        database,
        clock.now(),
        kind,
        outcome,
        account.id if account is not None else None,
        _text(username or (account.username if account else None), 64),
        _text(client, 64),
        _text(actor, 64),
        _text(detail, 255),
    )


def record_refusal(kind, outcome, **who):
    """A refused request's line (no CSRF token, a limit reached), written like a rate-limit counter: its commit does
    not wait for the disk. Refusals cost the client nothing to send, so a flood of them must not make real work
    queue behind one disk flush each; a power cut may lose the last few such lines only."""
    with db.counter_transaction(database):
        record(kind, outcome, **who)


def search(*, username=None, kind=None, date_from=None, date_to=None, page=1, per_page=50):
    """Audit events newest first, filtered; returns (events of the page, total count)."""
    query = AuditEvent.select()
    if username:
        query = query.where(AuditEvent.username == username)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if date_from:
        query = query.where(AuditEvent.at >= datetime.combine(date_from, time.min))
    if date_to:
        query = query.where(AuditEvent.at < datetime.combine(date_to, time.min) + timedelta(days=1))
    total = query.count()
    events = list(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).paginate(page, per_page))
    return events, total
