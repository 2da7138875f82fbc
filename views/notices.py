"""Service notices: the banner on every page (refreshed by htmx), the list, and an Atom feed."""

from flask import Blueprint, current_app, make_response, render_template

from domain import notices
from views.common import active_notices as cached_notices

bp = Blueprint("notices", __name__)


@bp.app_context_processor
def active_notices():
    return {"active_notices": cached_notices}


@bp.get("/notices")
def index():
    every = notices.all_notices()
    current = [n for n in every if notices.is_current(n)]
    past = [n for n in every if not notices.is_current(n)]
    return render_template("notices.html", current=current, past=past)


@bp.get("/notices/banner")
def banner():
    """The banner alone, for htmx polling (every minute) without a page load."""
    return render_template("partials/notice_banner.html")


@bp.get("/notices.atom")
def feed():
    every = notices.all_notices(limit=50)
    updated = max((n.updated_at for n in every), default=None)
    body = render_template(
        "notices.atom.xml",
        notices=every,
        updated=updated,
        base_url=current_app.config["KAPU_BASE_URL"],
        is_current=notices.is_current,
    )
    response = make_response(body)
    response.mimetype = "application/atom+xml"
    return response
