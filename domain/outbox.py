"""The transactional outbox: mail is written beside the change that caused it, sealed at rest."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import db
from domain import clock
from models import Account, OutboxMessage, database

# The identification address only ever receives identification mail (the seed's rule, enforced here).
IDENTIFICATION_KINDS = frozenset(
    {
        "activation_code",
        "reset_code",
        "username_taken",
        "email_change_confirm",
        "email_change_requested",
        "email_changed_notice",
    }
)
STALE_CLAIM = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


class MailNotAllowed(ValueError):
    """A message of a kind the identification address must not receive."""


def enqueue(services, kind, recipient, subject, text, html, account=None, domain=None):
    """Store a message for delivery; call inside the transaction of the change that causes it."""
    domain = domain or services.mail_domain
    if kind not in IDENTIFICATION_KINDS and _is_identification_address(recipient):
        raise MailNotAllowed(kind)
    now = clock.now()
    sealed = services.sealer.encrypt(json.dumps({"text": text, "html": html}).encode()).decode()
    return OutboxMessage.create(
        kind=kind,
        recipient=recipient,
        subject=subject,
        sealed_body=sealed,
        account=account,
        created_at=now,
        next_attempt_at=now,
        message_id=f"<{secrets.token_hex(16)}@{domain}>",
    )


def _is_identification_address(recipient):
    return Account.select().where(Account.email == recipient).exists()


def unseal(services, message) -> dict:
    if not message.sealed_body:
        return {"text": "", "html": ""}
    return json.loads(services.sealer.decrypt(message.sealed_body.encode()))


def claim_next():
    """Take the oldest due message (or one whose sender died mid-send) so no other worker sends it.

    The row is locked for the claim (skipped by other claimers where the database can), and the claim is a
    conditional update on the state that was read: a row another worker claimed first is never taken twice.
    """
    for _ in range(3):  # a row claimed by another worker between our read and our update: look again
        message = _try_claim(clock.now())
        if message is not False:
            return message
    return None


def _try_claim(now):
    """The claimed message, None when nothing is due, or False when another worker won the race."""
    with database.atomic():
        due = (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)
        stale = (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at < now - STALE_CLAIM)
        # One query per kind, each found through the (status, ...) index; the older of the two is taken. As one
        # query with OR, SQLite walks the primary key in id order past every mail ever sent.
        found = [
            db.claim_rows_for_update(OutboxMessage.select().where(kind).order_by(OutboxMessage.id).limit(1)).first()
            for kind in (due, stale)
        ]
        found = [message for message in found if message is not None]
        if not found:
            return None
        message = min(found, key=lambda candidate: candidate.id)
        claimed = (
            OutboxMessage.update(status="sending", claimed_at=now)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == message.status,
                _same_claim(message.claimed_at),
            )
            .execute()
        )
        if claimed != 1:
            return False
        message.status, message.claimed_at = "sending", now
        return message


def _same_claim(claimed_at):
    if claimed_at is None:
        return OutboxMessage.claimed_at.is_null()
    return OutboxMessage.claimed_at == claimed_at


def mark_sent(message):
    """Delivered: the sealed body (it may hold a code) is erased; subject, recipient and times stay for the record."""
    with database.atomic():
        OutboxMessage.update(status="sent", sent_at=clock.now(), last_error=None, sealed_body=None).where(
            OutboxMessage.id == message.id
        ).execute()


def mark_failed(message, error: str):
    """Put the message back with exponential back-off: 10 s, 20 s, 40 s ... at most an hour."""
    attempts = message.attempts + 1
    delay = min(timedelta(seconds=10 * 2 ** min(attempts - 1, 12)), MAX_BACKOFF)
    with database.atomic():
        OutboxMessage.update(
            status="pending",
            attempts=attempts,
            next_attempt_at=clock.now() + delay,
            claimed_at=None,
            last_error=error[:255],
        ).where(  # only while it is still our claim: a worker that took over a stale claim owns it now
            OutboxMessage.id == message.id, OutboxMessage.status == "sending", _same_claim(message.claimed_at)
        ).execute()


def mark_undeliverable(message, reason: str):
    """Give up on a message for good (status failed): it is never claimed again, so its body goes too."""
    with database.atomic():
        OutboxMessage.update(status="failed", claimed_at=None, last_error=reason[:255], sealed_body=None).where(
            OutboxMessage.id == message.id
        ).execute()
