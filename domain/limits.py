"""Rate limits counted in the database, so every server process sees the same numbers."""

from __future__ import annotations

import hashlib
import ipaddress
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import db
from domain import clock
from models import Hit, database

_FORGET_AFTER = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Limit:
    name: str
    max_count: int
    window_seconds: int


def key(limit: Limit, subject: str) -> str:
    """A compact key; the subject (an address or a username) is hashed so keys stay short and uniform."""
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{limit.name}:{digest}"


def client_subject(address: str) -> str:
    """What a per-client limit counts: an IPv6 client's /64 (one subscriber's share), else the address itself."""
    if ":" not in address:
        return address  # IPv4 (its one spelling: no leading zeros) or no address at all: itself, unparsed
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)


def _since(limit):
    return clock.now() - timedelta(seconds=limit.window_seconds)


_BOUNDARY = db.Statement(
    lambda key, since, one, skip: (
        Hit.select(Hit.at).where(Hit.key == key, Hit.at > since).order_by(Hit.at.desc()).limit(one).offset(skip)
    )
)
_COUNT = db.Statement(lambda key, at: Hit.insert(key=key, at=at))


def retry_after(limit: Limit, subject: str) -> int:
    """Seconds until *subject* may try again under *limit*; 0 when it may now."""
    # The max_count-th most recent hit in the window: while it exists the limit is reached.
    now = clock.now()
    since = now - timedelta(seconds=limit.window_seconds)
    boundary = _BOUNDARY.run(database, key(limit, subject), since, 1, limit.max_count - 1).fetchone()
    if boundary is None:
        return 0
    free_at = Hit.at.python_value(boundary[0]) + timedelta(seconds=limit.window_seconds)
    return max(1, int((free_at - now).total_seconds()) + 1)


def record(limit: Limit, subject: str) -> int:
    """Count one attempt, whatever the count; the new hit's id."""
    with db.counter_transaction(database):
        hit_id = db.inserted_id(database, _COUNT.run(database, key(limit, subject), clock.now()))
        if random.random() < 0.01:  # now and then, forget what no window can still see
            Hit.delete().where(Hit.at < clock.now() - _FORGET_AFTER).execute()
        return hit_id


@dataclass(frozen=True)
class Hold:
    """An attempt counted before its outcome is known; give it back if it turns out not to count."""

    wait: int  # seconds to wait; 0 when the attempt was allowed (and counted)
    hit_id: int | None = None


def take(limit: Limit, subject: str) -> int:
    """Count one attempt if the limit allows it; otherwise return the seconds to wait (nothing counted)."""
    return hold(limit, subject).wait


def hold(limit: Limit, subject: str) -> Hold:
    """Like take, keeping the counted hit so it can be given back.

    Check and count are one step per key (a per-key lock), so parallel requests on any database and in any
    worker never let more than max_count through.
    """
    return _checked(limit, subject, retry_after)


def hold_backoff(limit: Limit, subject: str) -> Hold:
    """Count a failure in advance unless the back-off says wait: N parallel tries cannot all slip past it."""
    return _checked(limit, subject, backoff)


def _checked(limit, subject, wait_for):
    with db.counter_transaction(database):
        db.lock_key(database, key(limit, subject))
        wait = wait_for(limit, subject)
        return Hold(wait) if wait else Hold(0, record(limit, subject))


def give_back(held: Hold):
    """Uncount an attempt that turned out not to count (a right code, a right password)."""
    if held.hit_id is not None:
        with db.counter_transaction(database):
            Hit.delete().where(Hit.id == held.hit_id).execute()


def clear(limit: Limit, subject: str):
    with database.atomic():
        Hit.delete().where(Hit.key == key(limit, subject)).execute()


def backoff(limit: Limit, subject: str) -> int:
    """Login back-off: past max_count failures in the window, wait 30 s, doubling per failure, at most 15 min.

    The owner is slowed, never locked out for good: once the window passes, the count is back to zero.
    """
    recent = Hit.select(Hit.at).where(Hit.key == key(limit, subject), Hit.at > _since(limit))
    failures = recent.count()
    if failures < limit.max_count:
        return 0
    last = recent.order_by(Hit.at.desc()).first().at
    wait = timedelta(seconds=min(30 * 2 ** min(failures - limit.max_count, 10), 900))
    remaining = (last + wait - clock.now()).total_seconds()
    return int(remaining) + 1 if remaining > 0 else 0


class ProcessWindow:
    """Per-client counts of the live checks, kept in this process's memory instead of the database.

    A check changes nothing and tells nothing (no account, no code is looked up), so its limit only bounds the
    CPU one client can take; counting it in the database cost a write transaction per keystroke, more than the
    check itself. Each server process counts on its own: with N processes a client gets at most N times the limit
    (still a bounded, small cost). The window slides as the database's does and says how long to wait the same
    way. Clients not seen for a whole window are forgotten; past max_subjects, the least recently seen first.
    """

    def __init__(self, max_subjects: int = 20_000):
        self.max_subjects = max_subjects
        # name -> [window in seconds, hit, hit, ...] (microseconds), least recently seen first. A plain dict and one
        # list per client: at max_subjects, an OrderedDict and a (window, hits) tuple cost a worker 3 MB more.
        self._hits: dict[str, list[int]] = {}
        self._lock = threading.Lock()  # waitress and the development server run requests in threads

    def take(self, limit: Limit, subject: str) -> int:
        """Count one check if *limit* allows it; otherwise the seconds to wait (nothing counted)."""
        now, window = (clock.now() - _EPOCH) // _MICROSECOND, limit.window_seconds * 1_000_000
        since = now - window
        name = f"{limit.name}:{subject}"
        with self._lock:
            counted = self._hits.pop(name, None) or [limit.window_seconds]
            while len(counted) > 1 and counted[1] <= since:
                del counted[1]
            self._hits[name] = counted  # now the most recently seen
            if len(counted) - 1 >= limit.max_count:
                return max(1, (counted[-limit.max_count] + window - now) // 1_000_000 + 1)
            counted.append(now)
            self._forget(now)
            return 0

    def _forget(self, now):
        hits = self._hits
        while hits:
            name = next(iter(hits))
            counted = hits[name]
            if len(hits) <= self.max_subjects and len(counted) > 1 and counted[-1] > now - counted[0] * 1_000_000:
                return
            del hits[name]

    def __len__(self):
        return len(self._hits)


@dataclass(frozen=True)
class Limits:
    """Kapu's limits, from configuration: generous per address (an office shares one), strict per target."""

    login_failures: Limit
    client_posts: Limit
    client_wrong_codes: Limit
    codes_per_account: Limit
    client_mails: Limit
    client_checks: Limit
    # E-mail change requests per account (each mails a new address and the old one), apart from codes so
    # someone holding the password cannot use up the owner's forgotten-password budget.
    email_changes_per_account: Limit

    @classmethod
    def from_config(cls, config):
        return cls(
            login_failures=Limit("login-fail", config["KAPU_LOGIN_MAX_FAILURES"], config["KAPU_LOGIN_WINDOW"]),
            client_posts=Limit("client-post", config["KAPU_CLIENT_POSTS_PER_MINUTE"], 60),
            client_wrong_codes=Limit("client-code", config["KAPU_CLIENT_WRONG_CODES_PER_HOUR"], 3600),
            codes_per_account=Limit("account-code", config["KAPU_CODES_PER_ACCOUNT_PER_HOUR"], 3600),
            client_mails=Limit("client-mail", config["KAPU_CLIENT_MAILS_PER_HOUR"], 3600),
            client_checks=Limit("client-check", config["KAPU_CLIENT_CHECKS_PER_MINUTE"], 60),
            email_changes_per_account=Limit("account-email", config["KAPU_CODES_PER_ACCOUNT_PER_HOUR"], 3600),
        )
