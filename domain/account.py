"""Your account (/account, the "Registration data" page): changing the identification e-mail and the password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from domain import audit, issuing, outbox, passwords, sessions
from models import Account, database


def mask_email(address: str | None) -> str:
    """j***@example.hu: enough for the owner to recognise, little for a shoulder-surfer."""
    local, _, domain = (address or "").partition("@")
    return f"{local[:1]}***@{domain}"


def mask_email_for_mail(address: str) -> str:
    """n***@e***.hu: mail to the old address masks the domain too, as someone else typed it and mail clients
    turn a domain into a link."""
    local, _, domain = address.partition("@")
    host, dot, ending = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***{dot}{ending}" if dot else f"{local[:1]}***@{domain[:1]}***"


def check_password(services, account, password) -> bool:
    ok, _ = passwords.verify(services.hasher, account.password_hash, password)
    return ok


def void_pending_email_change(account_id):
    """A new password, an activation or a re-issued code ends any pending change (its links die).

    Call inside the transaction of that change.
    """
    Account.update(email_change_nonce=None).where(Account.id == account_id).execute()


def request_email_change(services, account, new_email, client=None, language=None) -> bool:
    """Send a confirmation link to *new_email* and tell the old address, with a link to cancel.

    Written only while the session version is the one this request was authorised with: a request racing
    a password change finds it moved on and sends nothing (False). The link goes out in *language*, the
    page's; the warning to the old address in the account's own language (its owner may not be the asker).
    """
    nonce = secrets.token_hex(8)
    with database.atomic():
        changed = (
            Account.update(email_change_nonce=nonce)
            .where(Account.id == account.id, Account.session_version == account.session_version)
            .execute()
        )
        if changed != 1:
            audit.record("email_change", "session_ended", account=account, client=client)
            return False
        payload = {"a": account.id, "e": new_email, "n": nonce}
        link = f"{services.base_url}/account/email/confirm/{services.email_links.sign(payload)}"
        subject, text, html = services.compose(
            "email_change_confirm", language or account.language, account=account, new_email=new_email, link=link
        )
        outbox.enqueue(services, "email_change_confirm", new_email, subject, text, html, account=account)
        # The cancel link goes to the old address: it names the new one only masked.
        cancel_token = services.email_cancel_links.sign({**payload, "e": mask_email(new_email)})
        cancel_link = f"{services.base_url}/account/email/cancel/{cancel_token}"
        subject, text, html = services.compose(
            "email_change_requested",
            account.language,
            account=account,
            new_email_masked=mask_email_for_mail(new_email),
            cancel_link=cancel_link,
            forgotten_url=f"{services.base_url}/forgotten-password",
        )
        outbox.enqueue(services, "email_change_requested", account.email, subject, text, html, account=account)
        audit.record("email_change", "requested", account=account, client=client)
    return True


@dataclass(frozen=True)
class EmailLink:
    status: str  # valid | expired | invalid | used
    account: Account | None = None
    new_email: str | None = None
    nonce: str | None = None


def _inspect(signer, token) -> EmailLink:
    """What a confirm or cancel link is worth now: it lives only while its request is the pending one."""
    check = signer.check(token)
    if check.status == "expired":
        return EmailLink("expired")
    data = check.data if check.status == "valid" else None
    if (
        not isinstance(data, dict)
        or not issuing.is_row_id(data.get("a"))
        or not all(isinstance(data.get(k), str) for k in ("e", "n"))
    ):
        return EmailLink("invalid")
    account = Account.get_or_none(Account.id == data["a"])
    if account is None:
        return EmailLink("invalid")
    if account.email_change_nonce is None or not secrets.compare_digest(account.email_change_nonce, data["n"]):
        return EmailLink("used")
    return EmailLink("valid", account, data["e"], data["n"])


def inspect_email_link(services, token) -> EmailLink:
    return _inspect(services.email_links, token)


def inspect_cancel_link(services, token) -> EmailLink:
    """Its new_email is the masked address: that is all the cancel link carries."""
    return _inspect(services.email_cancel_links, token)


def _end_pending(link) -> int:
    """Clear the pending request only if it is still this link's: a newer request, a reset or a cancel wins."""
    return (
        Account.update(email_change_nonce=None)
        .where(Account.id == link.account.id, Account.email_change_nonce == link.nonce)
        .execute()
    )


def confirm_email_change(services, token, client=None) -> EmailLink:
    """Apply a confirmed change and tell the old address, all in one transaction."""
    with database.atomic():
        link = inspect_email_link(services, token)
        if link.status == "valid":
            applied = (
                Account.update(email=link.new_email, email_change_nonce=None)
                .where(Account.id == link.account.id, Account.email_change_nonce == link.nonce)
                .execute()
            )
            link = link if applied == 1 else EmailLink("used")
        if link.status != "valid":
            audit.record("email_change", f"link_{link.status}", client=client)
            return link
        account = link.account  # as read: .email is still the old address
        subject, text, html = services.compose(
            "email_changed_notice",
            account.language,
            account=account,
            new_email_masked=mask_email_for_mail(link.new_email),
        )
        outbox.enqueue(services, "email_changed_notice", account.email, subject, text, html, account=account)
        audit.record("email_change", "confirmed", account=account, client=client)
        return link


def cancel_email_change(services, token, client=None) -> EmailLink:
    """The old address's owner calls off a pending change (from the notice sent when it was requested)."""
    with database.atomic():
        link = inspect_cancel_link(services, token)
        if link.status == "valid" and _end_pending(link) != 1:
            link = EmailLink("used")
        audit.record(
            "email_change",
            "cancelled" if link.status == "valid" else f"cancel_link_{link.status}",
            account=link.account,
            client=client,
        )
        return link


@dataclass(frozen=True)
class PasswordChanged:
    session_token: str | None  # the new id of the session that made the change (None: it had none)


def change_password(services, account, new_password, client=None, session_token=None) -> PasswordChanged | None:
    """Set a new password: every other session ends, this one gets a new id, a pending e-mail change dies.

    The hash is made before the transaction; the write happens only if the session version is still the
    one read with *account*. None when another change came first (then nothing is written).
    """
    new_hash = services.hasher.hash(new_password)
    with database.atomic():
        changed = (
            Account.update(password_hash=new_hash, session_version=Account.session_version + 1, email_change_nonce=None)
            .where(Account.id == account.id, Account.session_version == account.session_version)
            .execute()
        )
        audit.record("password_change", "success" if changed == 1 else "conflict", account=account, client=client)
        if changed != 1:
            return None
        return PasswordChanged(sessions.renew(account.id, session_token, account.session_version + 1))
