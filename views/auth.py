"""Login and logout; the session cookie carries only the id of a login kept on the server."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, session, url_for
from flask_babel import gettext as _

from domain import auth, limits, sessions
from domain.registration import normalise_username
from forms.auth import LoginForm
from views.common import client_address, limited_per_client, services, too_many

bp = Blueprint("auth", __name__)


@bp.before_app_request
def load_account():
    """The logged-in account, if its server-side session is still good (same password era, not timed out)."""
    g.account = None
    token = session.get("sid")
    if token is None:
        return
    g.account = sessions.resume(token)
    if g.account is None:
        _forget_login()


def _forget_login():
    """Clear the cookie's session (a fresh CSRF token next time); the language choice stays."""
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    g.account = None


def end_session():
    """Logout: the server forgets this session, so a copy of the cookie stops working too."""
    sessions.end(session.get("sid"))
    _forget_login()


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
    username, failures = normalise_username(form.username.data), services().limits.login_failures
    held = limits.hold_backoff(failures, username)  # counted as a failure until the password proves right
    if held.wait:
        return too_many(held.wait, "login")
    account = auth.authenticate(services(), form.username.data, form.password.data, client=client_address())
    if account is None:
        form.password.data = ""
        error = _("The username or the password is wrong, or the account is not activated yet.")
        return render_template("login.html", form=form, login_error=error), 401
    limits.clear(failures, username)
    end_session()  # a new session id (and CSRF token) on login; an earlier one of this browser ends
    session["sid"] = sessions.start(account)
    return redirect(url_for("desk.index" if account.is_staff else "account.show"), code=303)


@bp.post("/logout")
def logout():
    end_session()
    return redirect(url_for("pages.home"), code=303)
