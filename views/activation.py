"""The activation page: the four-field form, its signed-link variant and its live checks."""

from flask import Blueprint, abort, render_template

from domain import activation, issuing, limits
from forms.activation import ActivationForm
from views.common import client_address, client_subject, kapu, limited_per_client, too_many

bp = Blueprint("activation", __name__)

STATUS_FOR = {
    activation.Outcome.INVALID: 400,
    activation.Outcome.USED: 409,
    activation.Outcome.SUPERSEDED: 409,
    activation.Outcome.EXPIRED: 410,
    activation.Outcome.LOCKED: 429,
}
LINK_STATUS = {"invalid": 400, "used": 409, "expired": 410}


@bp.get("/activate")
def show_form():
    return render_template("activate.html", form=ActivationForm(formdata=None))


@bp.route("/activate/<token>", methods=["GET", "HEAD"])
def open_link(token):
    """Fill the code in from the e-mail link. Reading only: mail scanners may open it any number of times."""
    state = issuing.inspect_link(kapu(), token, client=client_address())
    if state.status != "valid":
        form = ActivationForm(formdata=None)
        return render_template("activate.html", form=form, link_problem=state.status), LINK_STATUS[state.status]
    form = ActivationForm(formdata=None, code=state.code)
    return render_template("activate.html", form=form, deadline=state.deadline)


@bp.post("/activate")
@limited_per_client
def submit():
    form = ActivationForm()
    if not form.validate():
        return _refill(form), 422
    # Wrong codes are also counted per client address, so one client cannot spray many usernames.
    wrong_codes = kapu().limits.client_wrong_codes
    wait = limits.retry_after(wrong_codes, client_subject())
    if wait:
        return too_many(wait, "activation")
    outcome = activation.activate(
        kapu(), form.username.data, form.code.data, form.password.data, client=client_address()
    )
    if outcome is activation.Outcome.INVALID:
        limits.record(wrong_codes, client_subject())
    if outcome is activation.Outcome.ACTIVATED:
        return render_template("activated.html")
    return _refill(form, outcome=outcome.value), STATUS_FOR[outcome]


def _refill(form, **context):
    """Show the form again with what was typed, never the passwords."""
    form.password.data = form.password_confirm.data = ""
    return render_template("activate.html", form=form, **context)


@bp.post("/activate/check/<field>")
def check_field(field):
    """Live validation of one field with the very validators the submit uses."""
    form = ActivationForm(meta={"csrf": False})
    return check_one(form, field)


def check_one(form, field):
    if field not in form.live_fields:
        abort(404)
    bound = form[field]
    if bound.data:
        bound.validate(form)
    return render_template("partials/field_messages.html", field=bound)
