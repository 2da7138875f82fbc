"""Kapu's application factory: configuration, extensions, security headers, blueprints and commands."""

from __future__ import annotations

import drivers  # noqa: F401, I001 - before peewee: whether the PostgreSQL driver loads (see drivers.py)

# isort: split
import logging
import os
import sys

import click
import peewee
from babel import Locale
from flask import Flask, abort, current_app, g, has_request_context, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFError

import cli
import config as kapu_config
import cookie_sessions
import csrf_rotation
import db
import live_checks
import logs
import mail
import metrics
import migrations
import models
import opened_links
import origins
import proxies
import static_files
import views
import views.common
from domain import help as articles
from domain.context import Services

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
# Every answer's security headers (pages add more below; static files get just these).
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    # same-origin, not no-referrer: Flask-WTF's HTTPS check needs a same-origin Referer, and no other site gets one.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "X-Frame-Options": "DENY",
}
MAX_REQUEST_BYTES = 64 * 1024

csrf = csrf_rotation.RotatingCSRFProtect()  # also reads forms drawn before a key rotation
babel = Babel()
log = logging.getLogger("kapu")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. *test_config* may hold KAPU_* values (as the environment would) and Flask keys."""
    app = Flask(__name__, instance_relative_config=True)
    overrides = dict(test_config or {})
    env = {**os.environ, **{k: str(v) for k, v in overrides.items() if k.startswith("KAPU_")}}
    try:
        settings = kapu_config.load(env, app.instance_path)
    except kapu_config.ConfigError as error:
        if test_config is not None:
            raise
        sys.exit(f"kapu: invalid configuration: {error}")
    app.config.update(settings)
    app.instance_path = settings["KAPU_DATA_DIR"]  # never the binary's temporary unpack folder
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (which times out itself)
        BABEL_DEFAULT_LOCALE=settings["KAPU_LANGUAGE"],
        BABEL_DEFAULT_TIMEZONE="Europe/Budapest",
    )
    app.config.update({k: v for k, v in overrides.items() if not k.startswith("KAPU_")})

    cookie_sessions.install(app)
    logs.init_app(app, views.common.client_address)  # first: a request the database fails still gets its id
    _init_database(app)
    metrics.init_app(app)
    app.before_request(_body_limit_of_view)  # before anything reads the form
    app.before_request(_refuse_nameless_parts)  # before CSRFProtect, which cannot read them
    app.before_request(_refuse_cross_site_posts)  # Flask-WTF checks the Referer only over https
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.extensions["kapu"] = Services.from_config(app.config, mail.compose, hasher=app.config.get("PASSWORD_HASHER"))
    app.before_request(_remember_language)
    app.after_request(_security_headers)
    views.init_app(app)
    static_files.install(app, SECURITY_HEADERS)  # a static file never reaches Flask (its access line is logged)
    live_checks.LiveChecks.install(app, SECURITY_HEADERS)  # the activation page's checks, before Flask's request cycle
    opened_links.OpenedLinks.install(app, SECURITY_HEADERS)  # the e-mail link likewise
    proxies.install(app)  # outermost: the real client and scheme, once, before anything reads them
    cli.add_commands(app)
    _prepare_schema(app, strict=test_config is not None)
    # No connection outlives the factory: a pre-forking server's workers must not share the parent's sockets.
    db.close_all(app.extensions["kapu_database"])
    return app


def _prepare_schema(app, strict):
    """Create an empty database's schema; refuse one that does not match the code; add any shipped help article
    the database lacks. The one place this happens: commands and tests rely on it."""
    try:
        with app.app_context():
            models.prepare_schema()
            articles.seed_articles(articles.SHIPPED)
    except migrations.SchemaMismatch as mismatch:
        if click.get_current_context(silent=True) is not None:
            # The command line: `migrate` and `backup` must still run; every other command refuses itself.
            app.extensions["kapu_schema_problem"] = str(mismatch)
            app.before_request(_refuse_mismatched_schema)
            return
        if strict:
            raise
        sys.exit(f"kapu: {mismatch}")
    except (peewee.OperationalError, peewee.ImproperlyConfigured, OSError) as error:
        if strict:
            raise
        sys.exit(f"kapu: cannot open the database {app.config['KAPU_DATABASE_URL']}: {error}")


def _refuse_mismatched_schema():
    """A development server started despite a mismatched schema answers 503 instead of failing later."""
    abort(503)


def _init_database(app):
    database = db.open_database(app.config["KAPU_DATABASE_URL"])
    models.database.initialize(database)
    app.extensions["kapu_database"] = database

    @app.before_request
    def _connect():
        if request.blueprint == "ops":
            return  # /healthz never needs the database; /readyz asks it itself and answers 503 when it fails
        database.connect(reuse_if_open=True)

    if db.keeps_connection_per_thread(database):
        return

    @app.teardown_appcontext
    def _close(_exc):
        if not database.is_closed() and not database.in_transaction():
            database.close()


def _body_limit_of_view():
    """A view marked with views.common.accepts_body takes a larger body (the help editor's two long texts)."""
    limit = getattr(current_app.view_functions.get(request.endpoint), "max_request_bytes", None)
    if limit:
        request.max_content_length = limit
        request.max_form_memory_size = limit


def _refuse_nameless_parts():
    """A multipart part without a name is stored under the key None; nothing Kapu sends has one."""
    if request.method == "POST" and (None in request.form or None in request.files):
        abort(400)


def _refuse_cross_site_posts():
    """A POST whose Origin (or, without one, Referer) names another site is refused, over http too.

    The site is the address the request reached (the proxy passes Host on) or the public KAPU_BASE_URL.
    """
    if request.method not in current_app.config["WTF_CSRF_METHODS"]:
        return
    sender = request.headers.get("Origin") or request.headers.get("Referer")
    if origins.from_another_site(sender, request.host_url, current_app.config["KAPU_BASE_URL"]):
        raise CSRFError("The request came from another site.")


# Parsed once: Flask-Babel parses a language code at every request, and Babel looks for its data file each time.
_LOCALES = {code: Locale.parse(code) for code in kapu_config.LANGUAGES}


def _select_locale():
    """The visitor's language as a Babel Locale; None (Flask-Babel's default) only outside a request."""
    if "language" in g:  # ?lang= on this request, or a live check answered before Flask (live_checks.py)
        return _LOCALES.get(g.language)
    if not has_request_context():  # the command line: the configured default
        return None
    chosen = session.get("language")
    if isinstance(chosen, str) and chosen in _LOCALES:
        return _LOCALES[chosen]
    return _LOCALES.get(current_app.config["BABEL_DEFAULT_LOCALE"])


def _remember_language():
    """`?lang=en` on any page switches the interface language and keeps it for the session."""
    wanted = request.args.get("lang")
    if wanted in kapu_config.LANGUAGES:
        session["language"] = wanted
        g.language = wanted


def _security_headers(response):
    headers = response.headers
    headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if response.mimetype == "text/html":
        headers["Vary"] = "Cookie, HX-Request"
    if current_app.config["SESSION_COOKIE_SECURE"] or request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response
