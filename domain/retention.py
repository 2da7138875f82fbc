"""Storage limitation: what Kapu no longer needs is deleted, by settings, daily and on `purge`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from peewee import fn

from domain import audit, clock, sessions
from models import Account, AuditEvent, Hit, LoginSession, OneTimeCode, OpsState, OutboxMessage, database

DAY = timedelta(days=1)
# Longer than any rate-limit window (the longest, the login window, is at most a day).
HIT_RETENTION = timedelta(days=2)
BATCH = 1000


@dataclass(frozen=True)
class Retention:
    audit_days: int = 365
    mail_days: int = 30
    code_days: int = 30
    pending_days: int = 90

    @classmethod
    def from_config(cls, config):
        return cls(
            audit_days=config["KAPU_RETAIN_AUDIT_DAYS"],
            mail_days=config["KAPU_RETAIN_MAIL_DAYS"],
            code_days=config["KAPU_RETAIN_CODE_DAYS"],
            pending_days=config["KAPU_RETAIN_PENDING_DAYS"],
        )


def purge(retention: Retention) -> dict[str, int]:
    """Delete what the settings say is no longer needed; return how many rows of each kind went."""
    now = clock.now()
    counts = {
        "audit events": _delete(AuditEvent, AuditEvent.at < now - timedelta(days=retention.audit_days)),
        "sent mail": _delete(
            OutboxMessage,
            OutboxMessage.status.in_(("sent", "failed"))
            & (OutboxMessage.created_at < now - timedelta(days=retention.mail_days)),
        ),
        "used or expired codes": _delete(OneTimeCode, _spent_before(now - timedelta(days=retention.code_days))),
        "never-activated accounts": _delete(Account, _abandoned(now, retention.pending_days)),
        "rate-limit hits": _delete(Hit, Hit.at < now - HIT_RETENTION),
        "timed-out sessions": _delete(LoginSession, sessions.ended_by_time(now)),
    }
    if any(counts.values()):
        audit.record(
            "purge", "done", actor="retention", detail=", ".join(f"{n} {what}" for what, n in counts.items() if n)[:255]
        )
    return counts


def _spent_before(moment):
    """Codes that expired before *moment*: every used or superseded one is among them a code lifetime later."""
    return OneTimeCode.expires_at < moment


def _abandoned(now, pending_days):
    """Citizens still pending *pending_days* after registering, with no code that still works."""
    live = OneTimeCode.select(OneTimeCode.id).where(
        OneTimeCode.account == Account.id,
        OneTimeCode.used_at.is_null(),
        OneTimeCode.voided_at.is_null(),
        OneTimeCode.expires_at > now,
    )
    return (
        (Account.status == "pending")
        & (Account.created_at < now - timedelta(days=pending_days))
        & (Account.role == "citizen")
        & ~fn.EXISTS(live)
    )


def _delete(model, condition) -> int:
    """Delete in short transactions of BATCH rows, so a large first purge never holds the write lock long."""
    deleted = 0
    while True:
        with database.atomic():
            batch = [row.id for row in model.select(model.id).where(condition).limit(BATCH)]
            if batch:
                deleted += model.delete().where(model.id.in_(batch)).execute()
        if len(batch) < BATCH:
            return deleted


def purge_if_due(retention: Retention) -> dict[str, int] | None:
    """Run `purge` when the last run (by any worker or server of the deployment) is a day old."""
    now = clock.now()
    with database.atomic():
        claimed = OpsState.update(at=now).where(OpsState.name == "purge", OpsState.at <= now - DAY).execute()
    return purge(retention) if claimed == 1 else None
