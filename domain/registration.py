"""Registration (online, at an office, from the command line) and the username rules every journey shares."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from peewee import IntegrityError

from domain import audit, clock, issuing
from models import Account, database

USERNAME_MIN, USERNAME_MAX = 3, 64
FULL_NAME_MAX = 200
EMAIL_MAX = 254
_USERNAME_SHAPE = re.compile(r"^[\w.\-]+$")


def normalise_username(raw: str | None) -> str:
    """The form usernames are stored and compared in: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", raw or "").strip().casefold()


def username_is_well_formed(raw: str | None) -> bool:
    name = normalise_username(raw)
    return USERNAME_MIN <= len(name) <= USERNAME_MAX and bool(_USERNAME_SHAPE.match(name))


@dataclass(frozen=True)
class Registration:
    account: Account | None
    taken: bool = False
    link: str | None = None


def register(services, *, username, full_name, email, language, channel, office=None, client=None, actor=None):
    """Create a pending account and mail its first code, in one transaction; report a taken username."""
    now = clock.now()
    with database.atomic():
        try:
            with database.atomic():
                account = Account.create(
                    username=normalise_username(username),
                    display_username=unicodedata.normalize("NFKC", username).strip(),
                    full_name=unicodedata.normalize("NFKC", full_name).strip(),
                    email=email,
                    language=language,
                    channel=channel,
                    office=office,
                    created_at=now,
                )
        except IntegrityError:
            audit.record(
                "registration",
                "username_taken",
                username=normalise_username(username),
                client=client,
                actor=actor,
                detail=channel,
            )
            return Registration(None, taken=True)
        audit.record("registration", "created", account=account, client=client, actor=actor, detail=channel)
        issued = issuing.issue_code(services, account, "activation", client=client, actor=actor)
    return Registration(account, link=issued.link)


def tell_username_taken(services, *, email, language, client=None):
    """The online registrant learns by mail, not on the page, that the name is taken (no enumeration)."""
    with database.atomic():
        subject, text, html = services.compose("username_taken", language, register_url=f"{services.base_url}/register")
        issuing.outbox.enqueue(services, "username_taken", email, subject, text, html)
        audit.record("registration_mail", "username_taken", client=client)
