"""Hot requests answered before Flask's request cycle, as Flask answers them: a mass mailing's wave.

A shortcut (live_checks, opened_links) takes only the common case of one route and leaves every other request to
Flask, untouched. What both do the way Flask does is here: the visitor's session cookie (read, and written as
Flask's session interface writes it), the security headers, the access line and the metrics. A fault of a
shortcut alone must not cost the visitor the answer: Flask then answers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from werkzeug.http import dump_cookie, parse_cookie

import logs
import metrics
from views.activation import LINK_IN_SESSION

# A session holding anything else (a login above all) is Flask's to read: it checks and touches login sessions.
VISITOR_SESSION_KEYS = frozenset({"csrf_token", "language", LINK_IN_SESSION})
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

log = logging.getLogger("kapu")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    secure: bool  # over https (or with secure cookies): HSTS, as app._security_headers adds it
    headers: tuple[tuple[str, str], ...] = ()


class Shortcut:
    """WSGI layer: `answer(environ)` gives an Answer for the common case of ROUTE, or None to leave it to Flask."""

    ROUTE = ""
    REASONS = {200: "OK", 303: "SEE OTHER"}

    def __init__(self, wsgi_app, app, security_headers):
        self.wsgi_app, self.app = wsgi_app, app
        self.headers = [*security_headers.items(), ("Cache-Control", "no-store"), ("Vary", "Cookie, HX-Request")]
        self._session_signers = {}  # per secret keys
        self._cookies = {}  # Cookie header -> the session cookie in it (None: none), see session_cookie

    @classmethod
    def install(cls, app, security_headers: dict[str, str]):
        """Answer ROUTE's common case in front of *app*'s WSGI stack (inside the proxy fix)."""
        app.wsgi_app = cls(app.wsgi_app, app, security_headers)

    def takes(self, environ) -> bool:
        raise NotImplementedError

    def answer(self, environ) -> Answer | None:
        raise NotImplementedError

    def __call__(self, environ, start_response):
        if not self.takes(environ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            answer = self.answer(environ)
        except Exception:
            log.exception("%s left to Flask after an error", self.ROUTE)
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(answer.body))),
            *answer.headers,
            *self.headers,
        ]
        if answer.secure:
            headers.append(HSTS)
        start_response(f"{answer.status} {self.REASONS[answer.status]}", headers)
        seconds = time.perf_counter() - started
        logs.log_access(
            {
                "request_id": logs.new_request_id(),
                "method": environ["REQUEST_METHOD"],
                "route": self.ROUTE,
                "status": answer.status,
                "duration_ms": round(seconds * 1000, 2),
                "client": environ.get("REMOTE_ADDR") or "unknown",
            }
        )
        metrics.collectors().observe_request(self.ROUTE, environ["REQUEST_METHOD"], answer.status, seconds)
        return [answer.body]

    def plain_set_up(self) -> bool:
        """Kapu's usual set-up, which the shortcuts copy: cookie sessions, no host list, schema in order."""
        return (
            isinstance(self.app.session_interface, SecureCookieSessionInterface)
            and not self.app.config.get("TRUSTED_HOSTS")
            and "kapu_schema_problem" not in self.app.extensions
        )

    def session_signer(self):
        """The session cookie's serializer, remembering what it verified (see Verified); None without a key."""
        keys = (self.app.secret_key, tuple(self.app.config["SECRET_KEY_FALLBACKS"] or ()))
        signer = self._session_signers.get(keys)
        if signer is None:
            serializer = self.app.session_interface.get_signing_serializer(self.app)
            signer = self._session_signers[keys] = serializer and Verified(serializer)
        return signer

    # Cookie headers remembered, and the longest remembered (a visitor's is one cookie of some 120 characters).
    COOKIE_HEADERS, COOKIE_HEADER_CHARACTERS = 2048, 1024

    def session_cookie(self, environ) -> str | None:
        """The session cookie in the request's Cookie header. A visitor's checks send the same header at every pause
        in typing: what werkzeug read in it is remembered (a pure reading; the signature is checked at every use)."""
        header = environ.get("HTTP_COOKIE", "")
        try:
            return self._cookies[header]
        except KeyError:
            pass
        cookie = parse_cookie(header).get(self.app.config["SESSION_COOKIE_NAME"])
        if len(header) <= self.COOKIE_HEADER_CHARACTERS:
            if len(self._cookies) >= self.COOKIE_HEADERS:
                self._cookies.clear()
            self._cookies[header] = cookie
        return cookie

    def visitor_session(self, cookie) -> dict | None:
        """The session in *cookie* of a visitor who is not logged in, as Flask would read it; None for anything else
        (no key, a bad or expired signature, a login)."""
        signer = self.session_signer()
        if not cookie or signer is None:
            return None
        try:
            session = signer.loads(cookie, max_age=int(self.app.permanent_session_lifetime.total_seconds()))
        except BadData:
            return None
        if not isinstance(session, dict) or not session.keys() <= VISITOR_SESSION_KEYS:
            return None
        return session

    def set_session_cookie(self, session: dict) -> tuple[str, str]:
        """The Set-Cookie header Flask's session interface writes for *session* (a changed, visitor's session)."""
        interface, app = self.app.session_interface, self.app
        value = self.session_signer().serializer.dumps(session)
        expires = interface.get_expiration_time(app, interface.session_class(session))
        cookie = dump_cookie(
            interface.get_cookie_name(app),
            value,
            expires=expires,
            path=interface.get_cookie_path(app),
            domain=interface.get_cookie_domain(app),
            secure=interface.get_cookie_secure(app),
            httponly=interface.get_cookie_httponly(app),
            samesite=interface.get_cookie_samesite(app),
            partitioned=interface.get_cookie_partitioned(app),
            max_size=app.config["MAX_COOKIE_SIZE"],
        )
        return ("Set-Cookie", cookie)


class Verified:
    """A serializer's loads that remembers what it verified: a visitor's checks (one per pause in typing) send the
    same session cookie and token each time, and verifying them again cost more than the check. Only values that
    verified are kept, the age limit is applied at every use, and the keys never change in a running process."""

    SIZE = 2048

    def __init__(self, serializer: URLSafeTimedSerializer):
        self.serializer = serializer
        self._kept: dict[str, tuple[object, int]] = {}

    def loads(self, value: str, max_age: int | None):
        kept = self._kept.get(value)
        if kept is None:
            payload, signed_at = self.serializer.loads(value, max_age=max_age, return_timestamp=True)
            if len(self._kept) >= self.SIZE:
                self._kept.clear()
            kept = self._kept[value] = (payload, int(signed_at.timestamp()))
        elif max_age is not None and not 0 <= int(time.time()) - kept[1] <= max_age:
            raise SignatureExpired("Signature expired")  # itsdangerous's own test, on its own clock
        return kept[0]
