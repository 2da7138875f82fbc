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


def request_email_change(kapu, account, new_email, client=None):
    """Send a confirmation link to *new_email*; the old address stays until the link is confirmed."""
    with database.atomic():
        account.email_change_nonce = secrets.token_hex(8)
        account.save()
        token = kapu.email_links.sign({"a": account.id, "e": new_email, "n": account.email_change_nonce})
        link = f"{kapu.base_url}/account/email/confirm/{token}"
        subject, text, html = kapu.compose("email_change_confirm", account.language, account=account,
                                           new_email=new_email, link=link)
        outbox.enqueue(kapu, "email_change_confirm", new_email, subject, text, html, account=account)
        audit.record("email_change", "requested", account=account, client=client)


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
        if link.status != "valid":
            audit.record("email_change", f"link_{link.status}", client=client)
            return link
        account, old_email = link.account, link.account.email
        account.email, account.email_change_nonce = link.new_email, None
        account.save()
        subject, text, html = kapu.compose("email_changed_notice", account.language, account=account,
                                           new_email_masked=mask_email(link.new_email))
        outbox.enqueue(kapu, "email_changed_notice", old_email, subject, text, html, account=account)
        audit.record("email_change", "confirmed", account=account, client=client)
        return link


def change_password(kapu, account, new_password, client=None):
    """Set a new password; every other session of the account ends (their session version is old)."""
    with database.atomic():
        account.password_hash = kapu.hasher.hash(new_password)
        account.session_version += 1
        account.save()
        audit.record("password_change", "success", account=account, client=client)
