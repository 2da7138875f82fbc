"""Service-disruption notices, modelled on the seed's e-signature outage notice."""

from __future__ import annotations

import itertools

from config import LANGUAGES
from domain import audit, clock
from models import Notice, database

SEVERITIES = ("info", "disruption", "outage")
# Bumped by every change made in this process, so this process's cached banner (views.common) is redrawn at once.
_changes = itertools.count(1)
_generation = 0


def generation() -> int:
    """How many changes this process has made to notices; another process's changes show by expiry instead."""
    return _generation


def _changed():
    global _generation
    _generation = next(_changes)


def add(
    *,
    title,
    body,
    service="",
    still_works="",
    contact="",
    severity="disruption",
    detected_at=None,
    until=None,
    language=None,
    actor=None,
) -> Notice:
    """A notice written in *language* (hu or en; None: not said), current from *detected_at* (default now)."""
    if severity not in SEVERITIES:
        raise ValueError("severity must be info, disruption or outage")
    if language is not None and language not in LANGUAGES:
        raise ValueError("language must be hu or en")
    now = clock.now()
    with database.atomic():
        notice = Notice.create(
            service=service or title,
            title=title,
            body=body,
            still_works=still_works,
            contact=contact,
            severity=severity,
            language=language,
            detected_at=detected_at or now,
            until=until,
            created_at=now,
            updated_at=now,
        )
        audit.record("notice_added", severity, actor=actor, detail=f"#{notice.id} {title}")
    _changed()
    return notice


def end(notice_id, actor=None) -> Notice | None:
    """Mark a notice resolved now; ending one that is already resolved changes nothing."""
    with database.atomic():
        notice = Notice.get_or_none(Notice.id == notice_id)
        if notice is None or notice.resolved_at is not None:
            return notice
        notice.resolved_at = notice.updated_at = clock.now()
        notice.save()
        audit.record("notice_ended", "done", actor=actor, detail=f"#{notice.id} {notice.title}")
    _changed()
    return notice


def active():
    return list(Notice.active(clock.now()))


def unresolved():
    """Notices not yet ended, newest first; which of them are current also depends on the time (see current)."""
    return list(Notice.select().where(Notice.resolved_at.is_null()).order_by(Notice.detected_at.desc()))


def current(unresolved_notices, now=None):
    """The ones of *unresolved_notices* whose planned end has not come yet."""
    now = now or clock.now()
    return [n for n in unresolved_notices if n.until is None or n.until > now]


def all_notices(limit=100):
    return list(Notice.select().order_by(Notice.detected_at.desc()).limit(limit))


def is_current(notice) -> bool:
    now = clock.now()
    return notice.resolved_at is None and (notice.until is None or notice.until > now)
