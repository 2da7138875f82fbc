"""Forgotten password: the same answer, status and cost whether or not the pair matches an account."""

from flask import Blueprint, render_template
from flask_babel import get_locale

from domain import limits, recovery
from domain.registration import normalise_username
from forms.account import ForgottenPasswordForm
from views.common import client_address, client_subject, limited_per_client, services, too_many

bp = Blueprint("recovery", __name__)


@bp.get("/forgotten-password")
def show_form():
    return render_template("forgotten_password.html", form=ForgottenPasswordForm(formdata=None))


@bp.post("/forgotten-password")
@limited_per_client
def submit():
    form = ForgottenPasswordForm()
    if not form.validate():
        return render_template("forgotten_password.html", form=form), 422
    # Counted per username whether or not it exists, so the limit itself tells nobody anything.
    wait = limits.take(services().limits.codes_per_account, normalise_username(form.username.data)) or limits.take(
        services().limits.client_mails, client_subject()
    )
    if wait:
        return too_many(wait, "forgotten_password")
    recovery.request_new_code(
        services(), form.username.data, form.email.data, str(get_locale()), client=client_address()
    )
    return render_template("forgotten_sent.html")
