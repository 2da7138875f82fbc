"""Audit events: time, account, client address, outcome. Never a password or a code."""

from __future__ import annotations

from domain import clock
from models import AuditEvent


def record(kind, outcome, *, account=None, username=None, client=None, actor=None, detail=None):
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
