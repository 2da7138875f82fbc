"""The one source of "now" (naive UTC, as stored), so tests can move time without sleeping."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
