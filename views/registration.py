"""Online registration: a pending account and a one-time code by e-mail."""

from flask import Blueprint, render_template
from flask_babel import get_locale

from domain import limits, registration
from forms.registration import RegistrationForm
from views.activation import check_one
from views.common import client_address, client_subject, limited_checks, limited_per_client, services, too_many

bp = Blueprint("registration", __name__)


@bp.get("/register")
def show_form():
    return render_template("register.html", form=RegistrationForm(formdata=None))


@bp.post("/register")
@limited_per_client
def submit():
    form = RegistrationForm()
    if not form.validate():
        return render_template("register.html", form=form), 422
    wait = limits.take(services().limits.client_mails, client_subject())
    if wait:
        return too_many(wait, "registration")
    language = str(get_locale())
    result = registration.register(
        services(),
        username=form.username.data,
        full_name=form.full_name.data,
        email=form.email.data,
        language=language,
        channel="online",
        client=client_address(),
    )
    if result.taken:
        registration.tell_username_taken(services(), email=form.email.data, language=language, client=client_address())
    # The same answer either way: the page never tells whether a username exists.
    return render_template("registered.html", email=form.email.data)


@bp.post("/register/check/<field>")
@limited_checks
def check_field(field):
    return check_one(RegistrationForm(meta={"csrf": False}), field)
