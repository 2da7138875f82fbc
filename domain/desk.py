"""The registration desk: staff accounts, an office's pending registrations, re-issue and cancel."""

from __future__ import annotations

import unicodedata

from peewee import IntegrityError

from domain import audit, clock, issuing
from domain.account import void_pending_email_change
from domain.registration import normalise_username
from models import Account, OneTimeCode, database

ROLES = ("clerk", "admin")


class StaffError(ValueError):
    """A staff action that cannot be done; the message says why."""


def add_staff(services, *, username, role, password, office=None):
    if role not in ROLES:
        raise StaffError("role must be clerk or admin")
    if role == "clerk" and office is None:
        raise StaffError("a clerk belongs to an office: give --office")
    password_hash = services.hasher.hash(password)  # slow: before the transaction, never inside it
    try:
        with database.atomic():
            account = Account.create(
                username=normalise_username(username),
                display_username=unicodedata.normalize("NFKC", username).strip(),
                full_name=username,
                email=None,
                role=role,
                status="active",
                password_hash=password_hash,
                office=office,
                channel="staff",
                created_at=clock.now(),
                activated_at=clock.now(),
            )
            audit.record("staff_added", role, account=account, actor="cli", detail=office)
    except IntegrityError:
        raise StaffError(f"the username {username!r} is already taken") from None
    return account


def can_see(staff, account) -> bool:
    """Admins see every office; a clerk only citizens registered at their own office."""
    if account is None or account.is_staff:
        return False
    return staff.role == "admin" or (account.office is not None and account.office == staff.office)


def pending_registrations(staff, limit=200):
    """Pending citizens with their live code's deadline, newest first (no code ever leaves the database)."""
    query = Account.select().where(Account.status == "pending", Account.role == "citizen")
    if staff.role != "admin":
        query = query.where(Account.office == staff.office)
    accounts = list(query.order_by(Account.created_at.desc()).limit(limit))
    deadlines = {}
    for code in OneTimeCode.select().where(
        OneTimeCode.account.in_(accounts), OneTimeCode.used_at.is_null(), OneTimeCode.voided_at.is_null()
    ):
        deadlines[code.account_id] = code.expires_at
    return [(account, deadlines.get(account.id)) for account in accounts]


def username_available(staff, username, client=None) -> bool:
    """The desk's live availability check: staff only, and every look-up is logged."""
    with database.atomic():
        available = not Account.select().where(Account.username == normalise_username(username)).exists()
        audit.record(
            "username_check",
            "free" if available else "taken",
            actor=staff.username,
            username=normalise_username(username)[:64],
            client=client,
        )
    return available


def reissue(services, staff, account, reason, client=None):
    """A new code for a citizen at the desk (the clerk never sees it); earlier codes die."""
    if not can_see(staff, account):
        raise StaffError("not your office's registration")
    with database.atomic():
        issuing.issue_code(
            services,
            account,
            "activation" if account.status == "pending" else "reset",
            client=client,
            actor=staff.username,
        )
        void_pending_email_change(account.id)  # the citizen's own recovery beats a pending change
        audit.record("desk_reissue", "done", account=account, actor=staff.username, client=client, detail=reason)


def cancel(staff, account, reason, client=None):
    """Withdraw a pending registration: the account and its codes go, the audit trail stays."""
    if not can_see(staff, account) or account.status != "pending":
        raise StaffError("only a pending registration of your office can be cancelled")
    with database.atomic():
        audit.record(
            "desk_cancel",
            "done",
            account=None,
            username=account.username,
            actor=staff.username,
            client=client,
            detail=reason,
        )
        account.delete_instance(recursive=True)
