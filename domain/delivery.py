"""Delivers the outbox over SMTP: claim a message, send it, mark it sent; back off when SMTP fails."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from cryptography.fernet import InvalidToken

from domain import outbox, upkeep

log = logging.getLogger("kapu.delivery")


class PlaintextLoginRefused(smtplib.SMTPException):
    """The SMTP password would have gone over a connection without TLS."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False
    ca_file: str | None = None
    allow_plaintext_login: bool = False
    timeout: float = 20.0

    @classmethod
    def from_config(cls, config):
        if not config.get("KAPU_SMTP_HOST"):
            return None
        return cls(
            host=config["KAPU_SMTP_HOST"],
            port=config["KAPU_SMTP_PORT"],
            username=config["KAPU_SMTP_USERNAME"],
            password=config["KAPU_SMTP_PASSWORD"],
            starttls=config["KAPU_SMTP_STARTTLS"],
            implicit_tls=config.get("KAPU_SMTP_TLS", False),
            ca_file=config.get("KAPU_SMTP_CA_FILE"),
            allow_plaintext_login=config.get("KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN", False),
        )

    def tls_context(self) -> ssl.SSLContext:
        """Certificates checked against the system's CAs (or only KAPU_SMTP_CA_FILE's), names against the host."""
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            try:
                smtp.starttls(context=self.tls_context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def send(self, message: EmailMessage):
        with self._connect() as smtp:
            if self.username:
                if not isinstance(smtp.sock, ssl.SSLSocket) and not self.allow_plaintext_login:
                    raise PlaintextLoginRefused("SMTP login refused: the connection is not encrypted")
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def build_email(services, message) -> EmailMessage:
    body = outbox.unseal(services, message)
    email = EmailMessage()
    email["From"] = services.mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = formatdate(localtime=False)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(body["text"])
    if body["html"]:
        email.add_alternative(body["html"], subtype="html")
    return email


def deliver_due(services, transport, limit=50) -> int:
    """Send what is due now; return how many were sent. Safe to run in several processes at once."""
    sent = 0
    for _ in range(limit):
        message = outbox.claim_next()
        if message is None:
            break
        try:
            email = build_email(services, message)
        except InvalidToken:
            # Sealed under a key that is neither KAPU_SECRET_KEY nor a fallback: retrying cannot help.
            log.error(
                "mail %s cannot be decrypted with KAPU_SECRET_KEY or KAPU_SECRET_KEY_FALLBACKS; marked failed",
                message.id,
            )
            outbox.mark_undeliverable(message, "cannot be decrypted with the configured keys")
            continue
        try:
            transport.send(email)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("mail %s to SMTP failed (attempt %s): %s", message.id, message.attempts + 1, error)
            outbox.mark_failed(message, f"{type(error).__name__}: {error}")
            break  # the server is likely down: back off instead of hammering it
        outbox.mark_sent(message)
        sent += 1
    return sent


class DeliveryWorker(threading.Thread):
    """The web server's own delivery loop, so no extra process is needed."""

    def __init__(self, app, transport, interval=1.0):
        super().__init__(name="kapu-delivery", daemon=True)
        self.app = app
        self.transport = transport
        self.interval = interval
        self.stopping = threading.Event()

    def run(self):
        services = self.app.extensions["kapu"]
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    deliver_due(services, self.transport)
                    upkeep.tick(self.app)  # heartbeat and the daily purge, once per deployment
            except Exception:  # keep delivering whatever one round hit; the log says what
                log.exception("delivery round failed")
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)
