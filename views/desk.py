"""The registration-office console: in-person registration, the office's pending list, re-issue, cancel."""

from __future__ import annotations

import functools

from flask import Blueprint, abort, g, redirect, render_template, url_for
from flask_babel import gettext as _

from domain import desk, limits, registration
from forms.desk import DeskRegistrationForm, ReasonForm
from models import Account
from views.common import client_address, client_subject, limited_per_client, services, too_many

bp = Blueprint("desk", __name__)


def staff_required(role=None):
    """Anonymous visitors go to login; citizens, and clerks on admin pages, get 403. Enforced on the server."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            account = g.get("account")
            if account is None:
                return redirect(url_for("auth.show_login"), code=303)
            if not account.is_staff or (role == "admin" and account.role != "admin"):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _desk(form=None, status=200, **context):
    form = form or DeskRegistrationForm(formdata=None)
    return render_template(
        "desk.html",
        form=form,
        pending=desk.pending_registrations(g.account),
        reason_form=ReasonForm(formdata=None),
        **context,
    ), status


@bp.get("/desk")
@staff_required()
def index():
    return _desk()


@bp.post("/desk/register")
@staff_required()
@limited_per_client
def register_citizen():
    form = DeskRegistrationForm()
    if g.account.office is None:
        return _desk(form, 422, desk_error=_("Only a clerk of an office can record an in-person registration."))
    if not form.validate():
        return _desk(form, 422)
    result = registration.register(
        services(),
        username=form.username.data,
        full_name=form.full_name.data,
        email=form.email.data,
        language=services().default_language,
        channel="office",
        office=g.account.office,
        client=client_address(),
        actor=g.account.username,
    )
    if result.taken:
        form.username.errors = [_("This username is taken: choose another one with the citizen.")]
        return _desk(form, 422)
    return _desk(registered_email=result.account.email)


@bp.post("/desk/check/<field>")
@staff_required()
def check_field(field):
    """Live checks; the username's availability is told only here, to staff, limited and logged."""
    form = DeskRegistrationForm(meta={"csrf": False})
    if field not in form.live_fields:
        abort(404)
    bound = form[field]
    if bound.data and bound.validate(form) and field == "username":
        wait = limits.take(services().limits.client_posts, client_subject())
        if wait:
            return too_many(wait, "username_check")
        if not desk.username_available(g.account, bound.data, client=client_address()):
            bound.errors = [_("This username is taken.")]
    return render_template("partials/field_messages.html", field=bound)


def _registration(account_id):
    account = Account.get_or_none(Account.id == account_id)
    if not desk.can_see(g.account, account):
        abort(404)  # another office's registration does not exist for this clerk
    return account


@bp.post("/desk/registrations/<int:account_id>/reissue")
@staff_required()
@limited_per_client
def reissue(account_id):
    account = _registration(account_id)
    form = ReasonForm()
    if not form.validate():
        return _desk(status=422, desk_error=_("Give a reason for the new code."))
    wait = limits.take(services().limits.codes_per_account, account.username)
    if wait:
        return too_many(wait, "desk_reissue")
    desk.reissue(services(), g.account, account, form.reason.data, client=client_address())
    return _desk(desk_message=_("A new code was sent to %(email)s; earlier codes no longer work.", email=account.email))


@bp.post("/desk/registrations/<int:account_id>/cancel")
@staff_required()
@limited_per_client
def cancel(account_id):
    account = _registration(account_id)
    form = ReasonForm()
    if not form.validate():
        return _desk(status=422, desk_error=_("Give a reason for the cancellation."))
    if account.status != "pending":
        return _desk(status=409, desk_error=_("Only a pending registration can be cancelled."))
    name = account.display_username
    desk.cancel(g.account, account, form.reason.data, client=client_address())
    return _desk(desk_message=_("The registration of %(username)s was cancelled.", username=name))
