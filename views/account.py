"""Registration data: see the identification e-mail, change it (confirmed by link) and the password."""

import functools

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from domain import account, audit, limits
from forms.account import EmailChangeForm, PasswordChangeForm
from views.activation import check_one
from views.auth import end_session
from views.common import (
    client_address,
    client_subject,
    limited_checks,
    limited_per_client,
    login_required,
    services,
    too_many,
)

bp = Blueprint("account", __name__)

LINK_STATUS = {"invalid": 400, "used": 409, "expired": 410}


def _page(email_form=None, password_form=None, status=200, **context):
    email_form = email_form or EmailChangeForm(formdata=None)
    password_form = password_form or PasswordChangeForm(formdata=None)
    return render_template(
        "account.html",
        account=g.account,
        masked_email=account.mask_email(g.account.email),
        email_form=email_form,
        password_form=password_form,
        **context,
    ), status


def citizens_only(view):
    """Staff have no identification e-mail and their credentials are set on the command line: they may not
    attach an address here (it would open forgotten password to them) nor change the password this way."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.account.is_staff:
            audit.record(request.endpoint, "refused_staff", account=g.account, client=client_address())
            message = _("Staff accounts have no registration data: an administrator manages them.")
            return render_template("error.html", status=403, message=message), 403
        return view(*args, **kwargs)

    return wrapper


@bp.get("/account")
@login_required
def show():
    if g.account.is_staff:
        return redirect(url_for("desk.index"), code=303)
    done = session.pop("account_done", {})
    return _page(email_sent_to=done.get("email_sent_to"), password_changed=done.get("password_changed"))


def _done(**what):
    """Post/redirect/get: a reload of the result page must not send the change again."""
    session["account_done"] = what
    return redirect(url_for("account.show"), code=303)


def _refuse_unless_current_password(form, field, form_name):
    """None when the current password is right; else the page to answer with.

    A wrong one counts like a failed login and shares its back-off, so it cannot be guessed here either.
    """
    held = limits.hold_backoff(services().limits.login_failures, g.account.username)
    if held.wait:
        return too_many(held.wait, request.endpoint)
    if account.check_password(services(), g.account, form[field].data):
        limits.give_back(held)
        return None
    audit.record(request.endpoint, "wrong_password", account=g.account, client=client_address())
    form[field].errors = [_("The current password is wrong.")]
    return _page(status=422, **{form_name: form})


@bp.post("/account/email")
@login_required
@citizens_only
@limited_per_client
def change_email():
    form = EmailChangeForm()
    if not form.validate():
        return _page(email_form=form, status=422)
    refusal = _refuse_unless_current_password(form, "password", "email_form")
    if refusal:
        return refusal
    # Each request mails two addresses: capped per account and per client (an IPv6 client by its /64) like
    # every other mail. A request the client cap refuses does not use up the account's own allowance.
    held = limits.hold(services().limits.email_changes_per_account, g.account.username)
    wait = held.wait or limits.take(services().limits.client_mails, client_subject())
    if wait:
        limits.give_back(held)
        return too_many(wait, "email_change")
    changed = account.request_email_change(
        services(), g.account, form.email.data, client=client_address(), language=str(get_locale())
    )
    if not changed:
        return _session_ended()
    return _done(email_sent_to=form.email.data)


@bp.post("/account/password")
@login_required
@citizens_only
@limited_per_client
def change_password():
    form = PasswordChangeForm(account_username=g.account.username)
    if not form.validate():
        return _page(password_form=form, status=422)
    refusal = _refuse_unless_current_password(form, "current_password", "password_form")
    if refusal:
        return refusal
    changed = account.change_password(
        services(), g.account, form.password.data, client=client_address(), session_token=session.get("sid")
    )
    if changed is None:
        return _session_ended()
    if changed.session_token is None:  # this session was logged out meanwhile: the new password stands
        end_session()
        return redirect(url_for("auth.show_login"), code=303)
    session["sid"] = changed.session_token  # this session goes on under a new id; every other one has ended
    return _done(password_changed=True)


def _session_ended():
    """The password changed in another session while this request was on its way: this session is over."""
    end_session()
    message = _("Your password was changed in another session meanwhile, so nothing was changed here. Log in again.")
    return render_template("error.html", status=409, message=message), 409


@bp.post("/account/check/<field>")
@login_required
@citizens_only
@limited_checks
def check_field(field):
    form = PasswordChangeForm(meta={"csrf": False}, account_username=g.account.username)
    return check_one(form, field)


@bp.get("/account/email/confirm/<token>")
def show_email_confirmation(token):
    """A GET only shows the button (mail scanners open links); the POST applies the change."""
    link = account.inspect_email_link(services(), token)
    status = LINK_STATUS.get(link.status, 200)
    return render_template("email_confirm.html", link=link, token=token), status


@bp.post("/account/email/confirm/<token>")
@limited_per_client
def confirm_email(token):
    link = account.confirm_email_change(services(), token, client=client_address())
    if link.status != "valid":
        return render_template("email_confirm.html", link=link, token=token), LINK_STATUS[link.status]
    return redirect(url_for("account.email_confirmed"), code=303)


@bp.get("/account/email/confirmed")
def email_confirmed():
    return render_template("email_confirmed.html")


@bp.get("/account/email/cancel/<token>")
def show_email_cancel(token):
    """From the notice to the old address. A GET only shows the button; the POST cancels."""
    link = account.inspect_cancel_link(services(), token)
    return _cancel_page(link, token)


@bp.post("/account/email/cancel/<token>")
@limited_per_client
def cancel_email_change(token):
    link = account.cancel_email_change(services(), token, client=client_address())
    return _cancel_page(link, token, cancelled=link.status == "valid")


def _cancel_page(link, token, cancelled=False):
    return render_template("email_cancel.html", link=link, token=token, cancelled=cancelled), LINK_STATUS.get(
        link.status, 200
    )
