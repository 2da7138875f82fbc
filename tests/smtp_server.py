"""A real SMTP server for tests (aiosmtpd), recording every message it accepts."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


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


class RecordingAuthenticator:
    """Accepts any login and remembers it, so a test sees whether a password was ever sent."""

    def __init__(self):
        self.logins = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.logins.append((mechanism, auth_data.login, auth_data.password, encrypted))
        return AuthResult(success=True)


class SmtpServer:
    """starttls_context offers STARTTLS; implicit_tls_context speaks TLS from the first byte (port 465 style);
    auth=True offers AUTH (also over plain text, as a careless server would)."""

    def __init__(self, port=None, starttls_context=None, implicit_tls_context=None, auth=False):
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self.authenticator = RecordingAuthenticator()
        options = {}
        if starttls_context is not None:
            options["tls_context"] = starttls_context
        if implicit_tls_context is not None:
            options["ssl_context"] = implicit_tls_context
        if auth:
            options.update(authenticator=self.authenticator, auth_require_tls=False)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def received(self):
        return self.handler.received
