"""A real SMTP server for tests (aiosmtpd), recording every message it accepts."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            {
                "to": list(envelope.rcpt_tos),
                "from": envelope.mail_from,
                "message": message_from_bytes(envelope.content, policy=policy.default),
            }
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def received(self):
        return self.handler.received
