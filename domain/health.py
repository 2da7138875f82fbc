"""Readiness: the database answers, the schema is current and mail is going out. Names only, no numbers."""

from __future__ import annotations

from datetime import timedelta

import peewee

from domain import clock, upkeep
from models import OutboxMessage, database, schema_problem

HEARTBEAT_MAX_AGE = timedelta(seconds=60)  # the delivery loop beats every ten seconds


def readiness(config) -> dict[str, str]:
    """Each check's verdict ("ok" or why not); ready when every one is "ok"."""
    try:
        database.execute_sql("SELECT 1")
    except peewee.DatabaseError:
        return {"database": "unavailable"}
    checks = {"database": "ok", "schema": "ok" if schema_problem() is None else "mismatch"}
    if config.get("KAPU_SMTP_HOST"):
        checks.update(_mail(config))
    return checks


def _mail(config) -> dict[str, str]:
    now = clock.now()
    waiting = OutboxMessage.select().where(OutboxMessage.status.in_(("pending", "sending")))
    oldest = waiting.order_by(OutboxMessage.created_at).first()
    too_old = oldest is not None and now - oldest.created_at > timedelta(seconds=config["KAPU_READY_MAX_MAIL_AGE"])
    beat = upkeep.last_beat()
    return {
        "mail_backlog": "too_high" if waiting.count() > config["KAPU_READY_MAX_BACKLOG"] else "ok",
        "mail_age": "too_old" if too_old else "ok",
        "mail_delivery": "ok" if beat is not None and now - beat <= HEARTBEAT_MAX_AGE else "stalled",
    }
