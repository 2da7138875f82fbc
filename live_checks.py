"""The activation page's live checks, answered before Flask's request cycle: the hot path of a mass mailing.

A check changes nothing and reads nothing from the database, so only a few steps of the request cycle concern
it, and they are done here the same way: the body cap, the same-site check, the CSRF token against the one in the
visitor's session (Flask-WTF's token, under any of the secret keys), the per-client limit, the very validators the
submit uses (views.activation's form, in the visitor's language), the partial, the security headers, the access
line and the metrics. Every other case goes on to Flask, which answers it as before, audit lines included: a
logged-in visitor, a missing or wrong token, another site, an unusual body, a query string, a limit reached.
tests/test_live_checks.py holds both paths to the same answers.
"""

from __future__ import annotations

import hmac
import io
import logging
import time
from urllib.parse import parse_qsl

from flask import g
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import same_origin
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie
from werkzeug.wsgi import get_host

import config as kapu_config
import logs
import metrics
import origins
from domain import limits
from forms.activation import ActivationForm
from views.activation import LINK_IN_SESSION

PREFIX = "/activate/check/"
ROUTE = "/activate/check/<field>"
FORM_TYPE = "application/x-www-form-urlencoded"
# A session holding anything else (a login above all) is Flask's to read: it checks and touches login sessions.
VISITOR_SESSION_KEYS = frozenset({"csrf_token", "language", LINK_IN_SESSION})
CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's

log = logging.getLogger("kapu")


def install(app, security_headers: dict[str, str]):
    """Answer the activation page's checks in front of *app*'s WSGI stack (inside the proxy fix)."""
    app.wsgi_app = LiveChecks(app.wsgi_app, app, security_headers)


class LiveChecks:
    def __init__(self, wsgi_app, app, security_headers):
        self.wsgi_app, self.app = wsgi_app, app
        self.headers = [*security_headers.items(), ("Cache-Control", "no-store"), ("Vary", "Cookie, HX-Request")]
        self._signers = {}  # per secret keys: (session serializer, CSRF token serializer)
        self._template = None

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            answer = self._answer(environ)
        except Exception:  # a fault of this shortcut alone must not cost the visitor the check: Flask answers
            log.exception("live check left to Flask after an error")
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        body, secure = answer
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))), *self.headers]
        if secure:
            headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        start_response("200 OK", headers)
        seconds = time.perf_counter() - started
        client = environ.get("REMOTE_ADDR") or "unknown"
        logs.log_access(
            {
                "request_id": logs.new_request_id(),
                "method": "POST",
                "route": ROUTE,
                "status": 200,
                "duration_ms": round(seconds * 1000, 2),
                "client": client,
            }
        )
        metrics.collectors().observe_request(ROUTE, "POST", 200, seconds)
        return [body]

    def _answer(self, environ):
        """(body, over https) when this check is the common case; None to leave it to Flask (body put back)."""
        config = self.app.config
        field = environ["PATH_INFO"][len(PREFIX) :]
        if field not in ActivationForm.live_fields or not self._plain_request(environ, config):
            return None
        scheme, host = environ.get("wsgi.url_scheme", "http"), get_host(environ)
        if not _from_own_site(environ, config, scheme, host):
            return None
        session_signer, token_signer = self._signers_for(config)
        session = self._visitor_session(environ, session_signer)
        if session is None:
            return None
        length = int(environ["CONTENT_LENGTH"])
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # whoever answers next reads it whole again
        if len(body) != length or not body.isascii():
            return None
        formdata = MultiDict(parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))
        if not self._token_is_right(environ, config, formdata, session, token_signer):
            return None
        address = environ.get("REMOTE_ADDR") or "unknown"
        with self.app.app_context():
            services = self.app.extensions["kapu"]
            if services.checks.take(services.limits.client_checks, limits.client_subject(address)):
                return None  # Flask refuses it too, with the field's message, Retry-After and the audit line
            language = session.get("language")
            if language in kapu_config.LANGUAGES:
                g.language = language
            bound = ActivationForm.for_check(field)(formdata=formdata, meta={"csrf": False}).checked(field)
            template = self._partial()  # shared: the partial reads only the field (not the app's globals)
            html = "".join(template.root_render_func(template.new_context({"field": bound}, shared=True)))
        return html.encode(), scheme == "https" or config["SESSION_COOKIE_SECURE"]

    def _plain_request(self, environ, config):
        """An urlencoded body within the cap, no query string, Kapu's usual CSRF and session set-up."""
        if environ.get("QUERY_STRING") or config.get("TRUSTED_HOSTS"):
            return False
        if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != FORM_TYPE:
            return False
        if not (config["WTF_CSRF_ENABLED"] and config["WTF_CSRF_CHECK_DEFAULT"]):
            return False
        if not isinstance(self.app.session_interface, SecureCookieSessionInterface):
            return False
        length = environ.get("CONTENT_LENGTH") or ""
        return length.isascii() and length.isdigit() and int(length) <= config["MAX_CONTENT_LENGTH"]

    def _signers_for(self, config):
        keys = (self.app.secret_key, tuple(config["SECRET_KEY_FALLBACKS"] or ()), config.get("WTF_CSRF_SECRET_KEY"))
        signers = self._signers.get(keys)
        if signers is None:
            # Flask-WTF signs with WTF_CSRF_SECRET_KEY or SECRET_KEY; csrf_rotation also reads the fallbacks' tokens.
            token_keys = [keys[2]] if keys[2] else [*keys[1], keys[0]]  # itsdangerous: the newest key last
            session_serializer = self.app.session_interface.get_signing_serializer(self.app)
            signers = self._signers[keys] = (
                session_serializer and Verified(session_serializer),
                Verified(URLSafeTimedSerializer(token_keys, salt=CSRF_SALT)),
            )
        return signers

    def _visitor_session(self, environ, signer):
        """The session of a visitor who is not logged in, as Flask would read it; None for anything else."""
        cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(self.app.config["SESSION_COOKIE_NAME"])
        if not cookie or signer is None:
            return None
        try:
            session = signer.loads(cookie, max_age=int(self.app.permanent_session_lifetime.total_seconds()))
        except BadData:
            return None
        if not isinstance(session, dict) or not session.keys() <= VISITOR_SESSION_KEYS:
            return None
        return session

    @staticmethod
    def _token_is_right(environ, config, formdata, session, signer):
        """Flask-WTF's check: the form's token (else a header's) is the session's, signed."""
        name = config["WTF_CSRF_FIELD_NAME"]
        if any(key != name and key.endswith(name) for key in formdata):
            return False  # a prefixed form's token: Flask-WTF's own lookup decides
        sent = formdata.get(name) or next(
            (value for header in config["WTF_CSRF_HEADERS"] if (value := environ.get(_environ_key(header)))), None
        )
        kept = session.get(name)
        if not sent or not isinstance(kept, str):
            return False
        try:
            token = signer.loads(sent, max_age=config["WTF_CSRF_TIME_LIMIT"])
        except BadData:
            return False
        return isinstance(token, str) and hmac.compare_digest(kept, token)

    def _partial(self):
        if self._template is None:
            self._template = self.app.jinja_env.get_template("partials/field_messages.html")
        return self._template


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


def _from_own_site(environ, config, scheme, host):
    """app._refuse_cross_site_posts and, over https, Flask-WTF's strict Referer check, both passed."""
    sender = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
    if origins.from_another_site(sender, f"{scheme}://{host}/", config["KAPU_BASE_URL"]):
        return False
    if scheme != "https" or not config["WTF_CSRF_SSL_STRICT"]:
        return True
    referrer = environ.get("HTTP_REFERER")
    return bool(referrer) and same_origin(referrer, f"https://{host}/")


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")
