"""Small helpers every view uses: the domain context, the client's address, limits and the login guard."""

from __future__ import annotations

import functools
import math
import time

import peewee
from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_caching import Cache
from flask_wtf.csrf import generate_csrf

from domain import audit, limits, notices

# Template fragments and pages that look alike for many visitors, kept in each process's memory (Flask-Caching).
fragments = Cache(config={"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 0, "CACHE_THRESHOLD": 100})
# How stale a worker's notice banner may be after another process (a worker, the CLI) changes a notice.
NOTICES_FRESH_SECONDS = 2.0


def services():
    return current_app.extensions["kapu"]


class NoticeBanner:
    """The current notices for every page, read from the database at most every NOTICES_FRESH_SECONDS.

    One per app (so per process and database); a change made in this process shows on its next page.
    """

    def __init__(self, fresh_seconds=NOTICES_FRESH_SECONDS):
        self.fresh_seconds = fresh_seconds
        self._read = None  # (monotonic time, this process's change generation, unresolved notices)

    def current(self):
        read = self._read
        generation = notices.generation()
        if read is None or read[1] != generation or time.monotonic() - read[0] >= self.fresh_seconds:
            read = self._read = (time.monotonic(), generation, notices.unresolved())
        return notices.current(read[2])


def active_notices():
    """The notices the banner shows now (cached per process for a few seconds); none when the database fails, so
    the error page that says so can still be drawn."""
    try:
        return current_app.extensions["kapu_notice_banner"].current()
    except peewee.DatabaseError:
        return []


def same_for_every_visitor(name, draw):
    """A page a visitor who is not logged in sees like everyone else (no query arguments): drawn once per language
    and set of current notices, then served with this visitor's own CSRF token in place of the one it was drawn with.
    Anyone else gets draw() as usual."""
    if g.get("account") is not None or request.args:
        return draw()
    token = generate_csrf()  # this visitor's, kept in their session
    shown = tuple((n.id, n.updated_at) for n in active_notices())
    key = f"page:{name}:{get_locale()}:{shown!r}"
    kept = fragments.get(key)
    if kept is None:
        page = draw()
        fragments.set(key, (page, token))
        return page
    page, drawn_with = kept
    return page.replace(drawn_with, token)


def client_address() -> str:
    """The client's own address (behind a trusted proxy too: see proxies.py); audit records it whole."""
    return request.remote_addr or "unknown"


def client_subject() -> str:
    """The client as per-client limits count it: IPv6 on its /64, so one host cannot rotate addresses."""
    return limits.client_subject(client_address())


def too_many(wait_seconds: int, what: str):
    """The 429 page in the user's language, saying when to try again; every refusal is audited."""
    account = getattr(g, "account", None)
    audit.record_refusal(what, "rate_limited", account=account, client=client_address())
    minutes = max(1, math.ceil(wait_seconds / 60))
    message = ngettext(
        "Too many attempts. Please try again in %(num)d minute.",
        "Too many attempts. Please try again in %(num)d minutes.",
        minutes,
    )
    response = current_app.make_response((render_template("error.html", status=429, message=message), 429))
    response.headers["Retry-After"] = str(max(1, wait_seconds))
    return response


def limited_per_client(view):
    """Cap a POST endpoint per client address: high enough for an office or school behind one address."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        wait = limits.take(services().limits.client_posts, client_subject())
        if wait:
            return too_many(wait, request.endpoint or "post")
        return view(*args, **kwargs)

    return wrapper


def limited_checks(view):
    """Cap the live field checks per client address; past it, the field says so (htmx swaps a 429 too)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        wait = services().checks.take(services().limits.client_checks, client_subject())
        if wait:
            account = getattr(g, "account", None)
            audit.record_refusal(request.endpoint or "check", "rate_limited", account=account, client=client_address())
            response = current_app.make_response((render_template("partials/check_limited.html"), 429))
            response.headers["Retry-After"] = str(max(1, wait))
            return response
        return view(*args, **kwargs)

    return wrapper


def accepts_body(max_bytes):
    """Let one view take a larger request body than the app-wide cap (read by the app before any form)."""

    def mark(view):
        view.max_request_bytes = max_bytes
        return view

    return mark


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("account") is None:
            return redirect(url_for("auth.show_login"), code=303)
        return view(*args, **kwargs)

    return wrapper
