"""Registration data: changing the identification e-mail (confirmed by link) and the password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from domain import audit, issuing, outbox, passwords
from models import Account, database


def mask_email(address: str) -> str:
    """j***@example.hu: enough for the owner to recognise, little for a shoulder-surfer."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def check_password(kapu, account, password) -> bool:
    ok, _ = passwords.verify(kapu.hasher, account.password_hash, password)
    return ok


def request_email_change(kapu, account, new_email, client=None) -> bool:
    """Send a confirmation link to *new_email*; the old address stays until the link is confirmed.

    Written only while the session version is the one this request was authorised with: a request racing
    a password change finds it moved on and sends nothing (False).
    """
    nonce = secrets.token_hex(8)
    with database.atomic():
        changed = Account.update(email_change_nonce=nonce).where(
            Account.id == account.id, Account.session_version == account.session_version
        ).execute()
        if changed != 1:
            audit.record("email_change", "session_ended", account=account, client=client)
            return False
        token = kapu.email_links.sign({"a": account.id, "e": new_email, "n": nonce})
        link = f"{kapu.base_url}/account/email/confirm/{token}"
        subject, text, html = kapu.compose("email_change_confirm", account.language, account=account,
                                           new_email=new_email, link=link)
        outbox.enqueue(kapu, "email_change_confirm", new_email, subject, text, html, account=account)
        audit.record("email_change", "requested", account=account, client=client)
    return True


@dataclass(frozen=True)
class EmailLink:
    status: str  # valid | expired | invalid | used
    account: Account | None = None
    new_email: str | None = None


def inspect_email_link(kapu, token) -> EmailLink:
    check = kapu.email_links.check(token)
    if check.status == "expired":
        return EmailLink("expired")
    data = check.data if check.status == "valid" else None
    if not isinstance(data, dict) or not issuing.is_row_id(data.get("a")) or not all(
        isinstance(data.get(k), str) for k in ("e", "n")
    ):
        return EmailLink("invalid")
    account = Account.get_or_none(Account.id == data["a"])
    if account is None:
        return EmailLink("invalid")
    if account.email_change_nonce is None or not secrets.compare_digest(account.email_change_nonce, data["n"]):
        return EmailLink("used")
    return EmailLink("valid", account, data["e"])


def confirm_email_change(kapu, token, client=None) -> EmailLink:
    """Apply a confirmed change and tell the old address, all in one transaction."""
    with database.atomic():
        link = inspect_email_link(kapu, token)
        if link.status == "valid":
            account, nonce = link.account, link.account.email_change_nonce
            # Only while this very request is still pending: a newer request, a cancel or a reset wins.
            applied = Account.update(email=link.new_email, email_change_nonce=None).where(
                Account.id == account.id, Account.email_change_nonce == nonce
            ).execute()
            link = link if applied == 1 else EmailLink("used")
        if link.status != "valid":
            audit.record("email_change", f"link_{link.status}", client=client)
            return link
        subject, text, html = kapu.compose("email_changed_notice", account.language, account=account,
                                           new_email_masked=mask_email(link.new_email))
        outbox.enqueue(kapu, "email_changed_notice", account.email, subject, text, html, account=account)
        audit.record("email_change", "confirmed", account=account, client=client)
        return link


def change_password(kapu, account, new_password, client=None) -> int | None:
    """Set a new password; every other session of the account ends (their session version is old).

    The hash is made before the transaction; the write happens only if the session version is still the
    one read with *account*. Returns the new session version, or None when another change came first.
    """
    new_hash = kapu.hasher.hash(new_password)
    with database.atomic():
        changed = Account.update(
            password_hash=new_hash, session_version=Account.session_version + 1, email_change_nonce=None
        ).where(Account.id == account.id, Account.session_version == account.session_version).execute()
        audit.record("password_change", "success" if changed == 1 else "conflict", account=account, client=client)
    return account.session_version + 1 if changed == 1 else None
