"""Login, logout and the "Registration data" page; sessions carry the account's session version."""

from __future__ import annotations

import time

from flask import Blueprint, g, redirect, render_template, session, url_for
from flask_babel import gettext as _

from domain import accounts, limits
from domain.accounts import normalise_username
from forms.auth import LoginForm
from models import Account
from views.common import client_address, kapu, limited_per_client, too_many

bp = Blueprint("auth", __name__)

IDLE_TIMEOUT = 30 * 60
ABSOLUTE_TIMEOUT = 12 * 60 * 60


@bp.before_app_request
def load_account():
    """The logged-in account, if the session is still good: same password era, not idle, not too old."""
    g.account = None
    account_id = session.get("account_id")
    if account_id is None:
        return
    now = int(time.time())
    account = Account.get_or_none(Account.id == account_id)
    too_idle = now - session.get("seen_at", 0) > IDLE_TIMEOUT
    too_old = now - session.get("login_at", 0) > ABSOLUTE_TIMEOUT
    if account is None or account.session_version != session.get("version") or too_idle or too_old:
        session.clear()
        return
    session["seen_at"] = now
    g.account = account


@bp.get("/login")
def show_login():
    return render_template("login.html", form=LoginForm(formdata=None))


@bp.post("/login")
@limited_per_client
def login():
    form = LoginForm()
    if not form.validate():
        return render_template("login.html", form=form), 422
    # Failures are counted per typed username, existing or not: the back-off reveals nothing.
    username, failures = normalise_username(form.username.data), kapu().limits.login_failures
    wait = limits.backoff(failures, username)
    if wait:
        return too_many(wait, "login")
    account = accounts.authenticate(kapu(), form.username.data, form.password.data, client=client_address())
    if account is None:
        limits.record(failures, username)
        form.password.data = ""
        error = _("The username or the password is wrong, or the account is not activated yet.")
        return render_template("login.html", form=form, login_error=error), 401
    limits.clear(failures, username)
    language = session.get("language")
    session.clear()  # a fresh session (and CSRF token) on login
    now = int(time.time())
    session.update(account_id=account.id, version=account.session_version, login_at=now, seen_at=now)
    if language:
        session["language"] = language
    return redirect(url_for("desk.index" if account.is_staff else "account.show"), code=303)


def end_session():
    """Forget the login (the language choice stays)."""
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    g.account = None


@bp.post("/logout")
def logout():
    end_session()
    return redirect(url_for("pages.home"), code=303)
