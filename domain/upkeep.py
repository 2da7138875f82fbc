"""Housekeeping done by the mail delivery loop: its heartbeat for /readyz and the daily purge."""

from __future__ import annotations

import logging
import time

from domain import clock, retention
from models import OpsState, database

log = logging.getLogger("kapu.upkeep")
EVERY_SECONDS = 10.0  # the loop runs every second; the heartbeat and the purge check need not


def tick(app):
    """One call per delivery round (cheap: does real work at most every ten seconds)."""
    state = app.extensions.setdefault("kapu_upkeep", {"last": float("-inf")})
    if time.monotonic() - state["last"] < EVERY_SECONDS:
        return
    state["last"] = time.monotonic()
    beat()
    counts = retention.purge_if_due(retention.Retention.from_config(app.config))
    if counts is not None:
        log.info("daily purge deleted %s", ", ".join(f"{n} {what}" for what, n in counts.items()))


def beat():
    """Record that mail delivery is alive, for every worker's /readyz to see."""
    with database.atomic():
        OpsState.update(at=clock.now()).where(OpsState.name == "delivery").execute()


def last_beat():
    row = OpsState.get_or_none(OpsState.name == "delivery")
    return row.at if row else None
