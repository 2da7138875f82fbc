"""Audit events: time, account, client address, outcome. Never a password or a code."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from domain import clock
from models import AuditEvent

_listeners = []


def listen(listener):
    """Call *listener(kind, outcome)* for every event recorded (metrics count activations and failed logins)."""
    if listener not in _listeners:
        _listeners.append(listener)


def record(kind, outcome, *, account=None, username=None, client=None, actor=None, detail=None):
    for listener in _listeners:
        listener(kind, outcome)
    return AuditEvent.create(
        at=clock.now(),
        kind=kind,
        outcome=outcome,
        account=account,
        username=(username or (account.username if account else None) or "")[:64] or None,
        client_address=(client or "")[:64] or None,
        actor=actor,
        detail=(detail or "")[:255] or None,
    )


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
