"""The activation page's live checks, answered before Flask's request cycle: the hot path of a mass mailing.

A check changes nothing and reads nothing from the database, so only a few steps of the request cycle concern
it, and they are done here the same way: the body cap, the same-site check, the CSRF token against the one in the
visitor's session (Flask-WTF's token, under any of the secret keys), the per-client limit, the very validators the
submit uses (views.activation's form, bound once per thread and refilled, in the visitor's language), the
partial, the security headers, the access line and the metrics. Every other case goes on to Flask, which answers
it as before, audit lines included: a logged-in visitor, a missing or wrong token, another site, an unusual body,
a query string, a limit reached.
tests/test_live_checks.py holds both paths to the same answers.
"""

from __future__ import annotations

import hmac
import io
from urllib.parse import parse_qsl

from flask_wtf.csrf import same_origin
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.wsgi import get_host

import config as kapu_config
import origins
from domain import limits
from forms.activation import ActivationForm
from forms.base import RefilledChecks
from shortcuts import Answer, Shortcut, Verified

PREFIX = "/activate/check/"
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's


class LiveChecks(Shortcut):
    ROUTE = "/activate/check/<field>"

    def __init__(self, wsgi_app, app, security_headers):
        super().__init__(wsgi_app, app, security_headers)
        self._token_signers = {}  # per secret keys
        self._template = None
        self._forms = RefilledChecks(ActivationForm)

    def takes(self, environ):
        return environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith(PREFIX)

    def answer(self, environ):
        """The check's Answer when it is the common case; None to leave it to Flask (body put back)."""
        config = self.app.config
        field = environ["PATH_INFO"][len(PREFIX) :]
        if field not in ActivationForm.live_fields or not self._plain_request(environ, config):
            return None
        scheme, host = environ.get("wsgi.url_scheme", "http"), get_host(environ)
        if not _from_own_site(environ, config, scheme, host):
            return None
        session = self.visitor_session(self.session_cookie(environ))
        if session is None:
            return None
        length = int(environ["CONTENT_LENGTH"])
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # whoever answers next reads it whole again
        if len(body) != length or not body.isascii():
            return None
        formdata = MultiDict(parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))
        if not self._token_is_right(environ, config, formdata, session, self._token_signer(config)):
            return None
        address = environ.get("REMOTE_ADDR") or "unknown"
        with self.app.app_context() as context:
            services = self.app.extensions["kapu"]
            if services.checks.take(services.limits.client_checks, limits.client_subject(address)):
                return None  # Flask refuses it too, with the field's message, Retry-After and the audit line
            visitor = context.g  # not through flask.g: each read or write through a proxy costs a check ~2 µs
            language = session.get("language")
            if language in kapu_config.LANGUAGES:
                visitor.language = language
            visitor.visitor_secret = session[config["WTF_CSRF_FIELD_NAME"]]  # _token_is_right found it, a str
            bound = self._forms.filled(field, formdata).checked(field)
            template = self._partial()  # shared: the partial reads only the field (not the app's globals)
            html = "".join(template.root_render_func(template.new_context({"field": bound}, shared=True)))
        return Answer(200, html.encode(), scheme == "https" or config["SESSION_COOKIE_SECURE"])

    def _plain_request(self, environ, config):
        """An urlencoded body within the cap, no query string, Kapu's usual CSRF and session set-up."""
        if environ.get("QUERY_STRING") or not self.plain_set_up():
            return False
        if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != FORM_TYPE:
            return False
        if not (config["WTF_CSRF_ENABLED"] and config["WTF_CSRF_CHECK_DEFAULT"]):
            return False
        length = environ.get("CONTENT_LENGTH") or ""
        return length.isascii() and length.isdigit() and int(length) <= config["MAX_CONTENT_LENGTH"]

    def _token_signer(self, config):
        keys = (self.app.secret_key, tuple(config["SECRET_KEY_FALLBACKS"] or ()), config.get("WTF_CSRF_SECRET_KEY"))
        signer = self._token_signers.get(keys)
        if signer is None:
            # Flask-WTF signs with WTF_CSRF_SECRET_KEY or SECRET_KEY; csrf_rotation also reads the fallbacks' tokens.
            token_keys = [keys[2]] if keys[2] else [*keys[1], keys[0]]  # itsdangerous: the newest key last
            signer = self._token_signers[keys] = Verified(URLSafeTimedSerializer(token_keys, salt=CSRF_SALT))
        return signer

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
