"""The activation page: the four-field form, its signed-link variant and its live checks."""

from flask import Blueprint, abort, redirect, render_template, session, url_for

from domain import activation, issuing, limits
from forms.activation import ActivationForm
from views.common import (
    client_address,
    client_subject,
    limited_checks,
    limited_per_client,
    same_for_every_visitor,
    services,
    too_many,
)

bp = Blueprint("activation", __name__)

STATUS_FOR = {
    activation.Outcome.INVALID: 400,
    activation.Outcome.USED: 409,
    activation.Outcome.SUPERSEDED: 409,
    activation.Outcome.EXPIRED: 410,
    activation.Outcome.LOCKED: 429,
}
LINK_STATUS = {"invalid": 400, "used": 409, "expired": 410}
# The opened link's token (opaque: the code inside is encrypted) rides in the session, not in the URL.
LINK_IN_SESSION = "activation_link"


@bp.get("/activate")
def show_form():
    """The form; after an e-mail link, with its code filled in for as long as that code is live."""
    token = session.get(LINK_IN_SESSION)
    state = issuing.inspect_link(services(), token) if isinstance(token, str) else None
    if state is None or state.status != "valid":
        session.pop(LINK_IN_SESSION, None)
        return same_for_every_visitor(
            "activate", lambda: render_template("activate.html", form=ActivationForm(formdata=None))
        )
    form = ActivationForm(formdata=None, code=state.code)
    return render_template("activate.html", form=form, deadline=state.deadline)


@bp.route("/activate/<token>", methods=["GET", "HEAD"])
def open_link(token):
    """Answer the e-mail link with a redirect to the clean /activate, so the token leaves the address bar
    and history. Reading only: mail scanners may open it any number of times."""
    state = issuing.open_link(services(), token, client=client_address())
    if state.status != "valid":
        form = ActivationForm(formdata=None)
        return render_template("activate.html", form=form, link_problem=state.status), LINK_STATUS[state.status]
    session[LINK_IN_SESSION] = token
    return redirect(url_for("activation.show_form"), code=303)


@bp.post("/activate")
@limited_per_client
def submit():
    form = ActivationForm()
    if not form.validate():
        return _refill(form), 422
    # Wrong codes are also counted per client address, so one client cannot spray many usernames.
    # The try is counted before the code is checked (so parallel tries cannot all pass) and given back unless wrong.
    held = limits.hold(services().limits.client_wrong_codes, client_subject())
    if held.wait:
        return too_many(held.wait, "activation")
    outcome = activation.activate(
        services(), form.username.data, form.code.data, form.password.data, client=client_address()
    )
    if outcome is not activation.Outcome.INVALID:
        limits.give_back(held)
    if outcome is activation.Outcome.ACTIVATED:
        session.pop(LINK_IN_SESSION, None)
        return render_template("activated.html")
    return _refill(form, outcome=outcome.value), STATUS_FOR[outcome]


def _refill(form, **context):
    """Show the form again with what was typed, never the passwords."""
    form.password.data = form.password_confirm.data = ""
    return render_template("activate.html", form=form, **context)


@bp.post("/activate/check/<field>")
@limited_checks
def check_field(field):
    """Live validation of one field with the very validators the submit uses."""
    form = ActivationForm(meta={"csrf": False})
    return check_one(form, field)


def check_one(form, field):
    if field not in form.live_fields:
        abort(404)
    return render_template("partials/field_messages.html", field=form.checked(field))
