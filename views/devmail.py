"""/dev/mailbox: the mail Kapu would have sent, only while no SMTP host is configured."""

from flask import Blueprint, abort, current_app, render_template

from domain import outbox
from models import OutboxMessage
from views.common import kapu

bp = Blueprint("devmail", __name__)


@bp.before_request
def only_without_smtp():
    if current_app.config["KAPU_SMTP_HOST"]:
        abort(404)


@bp.get("/dev/mailbox")
def mailbox():
    messages = OutboxMessage.select().order_by(OutboxMessage.id.desc()).limit(50)
    shown = [(m, outbox.unseal(kapu(), m)) for m in messages]
    return render_template("mailbox.html", messages=shown)
