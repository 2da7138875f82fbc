"""One blueprint per journey; error pages in the visitor's language."""

from urllib.parse import urlencode

from flask import current_app, g, render_template, request
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from domain import audit, codes
from mail import format_deadline
from views import (
    account,
    activation,
    auth,
    desk,
    desk_admin,
    devmail,
    help,
    notices,
    ops,
    pages,
    recovery,
    registration,
    text,
)
from views.common import NoticeBanner, client_address, fragments

ERROR_TEXT = {
    400: lambda: _("The request could not be understood. Go back, reload the page and try again."),
    404: lambda: _("There is no such page."),
    405: lambda: _("This page cannot be used that way."),
    413: lambda: _("What you sent is too large."),
    429: lambda: _("Too many attempts. Wait a little and try again."),
}


def init_app(app):
    """Blueprints, error pages and template helpers."""
    for module in (
        pages,
        activation,
        registration,
        recovery,
        auth,
        account,
        desk,
        desk_admin,
        notices,
        help,
        devmail,
        ops,
    ):
        app.register_blueprint(module.bp)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)
    app.extensions["kapu_notice_banner"] = NoticeBanner()
    fragments.init_app(app)  # the {% cache %} tag (Flask-Caching's template fragment cache)
    app.context_processor(_page_helpers)
    app.add_template_filter(text.paragraphs, "paragraphs")
    app.add_template_filter(text.line_breaks, "line_breaks")


def _page_helpers():
    return {
        "current_language": lambda: str(get_locale()),
        "language_url": _language_url,
        "format_deadline": format_deadline,
        "format_date": lambda moment: format_datetime(moment, "yyyy-MM-dd"),
        "machine_time": _machine_time,
        "min_password_length": lambda: current_app.extensions["kapu"].policy.min_length,
        "pristine": _pristine,
        "code_length": codes.LENGTH,
        "code_example": codes.EXAMPLE,
    }


def _pristine(form):
    """A form as first shown: nothing typed, nothing refused; its fields look alike for everyone (cacheable)."""
    return not form.errors and not any(field.data for field in form if field.type != "CSRFTokenField")


def _machine_time(moment):
    """A stored (naive UTC) moment as a `<time datetime>` value a browser or a crawler reads unambiguously."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _language_url(code):
    """This very page in another language (the switch works without JavaScript)."""
    args = request.args.to_dict() if request.method == "GET" else {}
    args["lang"] = code
    return f"{request.path}?{urlencode(sorted(args.items()))}"


def _csrf_error(error):
    """A missing or wrong token, or a POST from another site: 400, nothing changed, and an audit event."""
    audit.record_refusal(
        "csrf",
        "refused",
        account=g.get("account"),
        client=client_address(),
        detail=f"{request.method} {request.path}: {error.description}",
    )
    message = _("The form expired or was not sent from this site. Reload the page and try again.")
    return render_template("error.html", status=400, message=message), 400


def _http_error(error):
    text = ERROR_TEXT.get(error.code)
    message = text() if text else error.description
    return render_template("error.html", status=error.code, message=message), error.code


def _server_error(error):
    message = _("Something went wrong on our side. Nothing was changed; please try again later.")
    return render_template("error.html", status=500, message=message, request_id=g.get("request_id")), 500
