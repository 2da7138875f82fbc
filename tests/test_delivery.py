"""Mail through a real SMTP conversation: once, to the right address, with code, link and deadline."""

import re
import time

import pytest

from domain import clock, delivery
from domain.delivery import DeliveryWorker, SmtpSettings
from models import OutboxMessage
from tests.smtp_server import SmtpServer, free_port
from tests.support.helpers import register_citizen


@pytest.fixture
def smtp_app(make_app, smtp):
    return make_app(KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=smtp.port)


def deliver(app):
    with app.app_context():
        return delivery.deliver_due(app.extensions["kapu"], SmtpSettings.from_config(app.config))


def body_of(received):
    return received["message"].get_body(("plain",)).get_content()


def test_the_code_mail_arrives_once_to_the_right_address_only(smtp_app, smtp):
    register_citizen(smtp_app)
    register_citizen(smtp_app, username="nagy.eva", email="eva@example.hu")
    assert deliver(smtp_app) == 2
    assert deliver(smtp_app) == 0
    assert [m["to"] for m in smtp.received] == [["janos@example.hu"], ["eva@example.hu"]]
    text = body_of(smtp.received[0])
    assert re.search(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b", text)
    assert re.search(r"http://kapu\.test/activate/\S+", text)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)
    message = smtp.received[0]["message"]
    assert message["To"] == "janos@example.hu"
    assert re.fullmatch(r"<[0-9a-f]{32}@kapu\.test>", message["Message-ID"])  # the domain of KAPU_BASE_URL
    assert message.get_body(("html",)) is not None


def test_the_server_delivers_by_itself_within_seconds(smtp_app, smtp):
    worker = DeliveryWorker(smtp_app, SmtpSettings.from_config(smtp_app.config), interval=0.1)
    worker.start()
    try:
        register_citizen(smtp_app)
        deadline = time.monotonic() + 10
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(smtp.received) == 1


def test_smtp_down_is_retried_with_back_off_and_nothing_is_lost_or_sent_twice(make_app, frozen_clock):
    port = free_port()
    app = make_app(KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=port)
    register_citizen(app)
    assert deliver(app) == 0  # nobody listens: the attempt fails
    with app.app_context():
        message = OutboxMessage.get()
        assert message.status == "pending" and message.attempts == 1 and message.next_attempt_at > clock.now()
    server = SmtpServer(port).start()
    try:
        assert deliver(app) == 0  # backing off: not due yet
        frozen_clock.advance(seconds=11)
        assert deliver(app) == 1
        restarted = make_app(KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=port)
        assert deliver(restarted) == 0
        assert len(server.received) == 1
    finally:
        server.stop()


def test_a_sender_that_died_mid_send_is_taken_over_later(smtp_app, smtp, frozen_clock):
    register_citizen(smtp_app)
    with smtp_app.app_context():
        from domain import outbox

        assert outbox.claim_next() is not None  # a worker claimed it, then its process died
    assert deliver(smtp_app) == 0
    frozen_clock.advance(minutes=6)
    assert deliver(smtp_app) == 1
    assert len(smtp.received) == 1


def test_mail_is_in_the_recipients_language(smtp_app, smtp):
    register_citizen(smtp_app, username="english.user", email="en@example.hu", language="en")
    deliver(smtp_app)
    assert "one-time code" in body_of(smtp.received[0])
