"""/dev/mailbox: the mail Kapu would have sent, only while no SMTP host is configured."""

from ipaddress import ip_address

from flask import Blueprint, abort, current_app, render_template

from domain import outbox
from models import OutboxMessage
from views.common import client_address, kapu

bp = Blueprint("devmail", __name__)


@bp.before_request
def only_without_smtp_and_only_locally():
    """It shows live codes: never when real mail goes out, and only to a browser on this machine."""
    if current_app.config["KAPU_SMTP_HOST"] or not _is_local(client_address()):
        abort(404)


def _is_local(address):
    try:
        return ip_address(address).is_loopback
    except ValueError:
        return False


@bp.get("/dev/mailbox")
def mailbox():
    messages = OutboxMessage.select().order_by(OutboxMessage.id.desc()).limit(50)
    shown = [(m, outbox.unseal(kapu(), m)) for m in messages]
    return render_template("mailbox.html", messages=shown)
