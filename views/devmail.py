"""/dev/mailbox: the mail Kapu would have sent, for development only (KAPU_DEV_MAILBOX=1)."""

from ipaddress import ip_address

from flask import Blueprint, abort, current_app, render_template, request

from domain import outbox
from models import OutboxMessage
from proxies import has_forwarding_headers
from views.common import client_address, services

bp = Blueprint("devmail", __name__)


@bp.before_request
def only_for_a_local_developer():
    """It shows live codes: only when switched on, never when real mail goes out or the site is public.

    An https base URL means a deployment; any forwarding header means a proxy stands in front (and a local
    proxy would make every visitor look local), trusted or not.
    """
    config = current_app.config
    if (
        not config["KAPU_DEV_MAILBOX"]
        or config["KAPU_SMTP_HOST"]
        or config["KAPU_BASE_URL"].startswith("https://")
        or has_forwarding_headers(request.environ)
        or not _is_local(client_address())
    ):
        abort(404)


def _is_local(address):
    try:
        return ip_address(address).is_loopback
    except ValueError:
        return False


@bp.get("/dev/mailbox")
def mailbox():
    messages = OutboxMessage.select().order_by(OutboxMessage.id.desc()).limit(50)
    shown = [(m, outbox.unseal(services(), m)) for m in messages]
    return render_template("mailbox.html", messages=shown)
