"""Everything the domain needs from configuration, built once at start (keys derived, signers made)."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from cryptography.fernet import Fernet, MultiFernet

from domain import keys, passwords
from domain.limits import Limits, ProcessWindow
from domain.links import CodeLinks, LinkSigner
from domain.passwords import PasswordPolicy, RememberedVerdicts, new_hasher, normalising

# compose(kind, language, **context) -> (subject, text body, html body)
Composer = Callable[..., tuple[str, str, str]]


@dataclass
class Services:
    """The app's configured services (keys, link signers, limits, password rules and hasher, mail settings):
    one per app, made by create_app; domain functions take it first, views reach it through services()."""

    code_key: tuple[bytes, ...]  # the current key first, then the fallbacks' (codes.matches tries each)
    sealer: MultiFernet
    activation_links: CodeLinks
    email_links: LinkSigner
    email_cancel_links: LinkSigner  # in the notice to the old address: calls a pending change off
    limits: Limits
    code_ttl: int
    max_attempts: int
    policy: PasswordPolicy
    hasher: PasswordHasher
    base_url: str
    mail_from: str
    mail_domain: str
    default_language: str
    compose: Composer
    # Verified against when a username is unknown, so the miss costs what a wrong password costs.
    decoy_hash: str = ""
    # The live checks' per-client counts, in this process's memory (see ProcessWindow).
    checks: ProcessWindow = field(default_factory=ProcessWindow)

    @classmethod
    def from_config(cls, config, compose: Composer, hasher: PasswordHasher | None = None):
        secret = config["SECRET_KEY"]
        # Current key first: it signs, seals and hashes; the fallbacks only verify and open what they made.
        secrets_ = [secret, *config.get("SECRET_KEY_FALLBACKS", [])]
        hasher = normalising(hasher or new_hasher())  # every stored hash is of the NFKC form
        return cls(
            code_key=tuple(keys.derive(key, "one-time-code") for key in secrets_),
            sealer=MultiFernet([Fernet(base64.urlsafe_b64encode(keys.derive(key, "outbox-seal"))) for key in secrets_]),
            activation_links=CodeLinks(secrets_, "activate", config["KAPU_CODE_TTL"]),
            # itsdangerous signs with the last key of the list and verifies with any.
            email_links=LinkSigner(secrets_[::-1], "email-change", config["KAPU_CODE_TTL"]),
            email_cancel_links=LinkSigner(secrets_[::-1], "email-change-cancel", config["KAPU_CODE_TTL"]),
            limits=Limits.from_config(config),
            code_ttl=config["KAPU_CODE_TTL"],
            max_attempts=config["KAPU_CODE_MAX_ATTEMPTS"],
            policy=PasswordPolicy(min_length=config["KAPU_PASSWORD_MIN_LENGTH"], verdicts=RememberedVerdicts()),
            hasher=hasher,
            base_url=config["KAPU_BASE_URL"],
            mail_from=config["KAPU_MAIL_FROM"],
            mail_domain=mail_domain(config["KAPU_BASE_URL"], config["KAPU_MAIL_FROM"]),
            default_language=config["KAPU_LANGUAGE"],
            compose=compose,
            decoy_hash=passwords.decoy_hash(hasher),
        )


def mail_domain(base_url: str, mail_from: str) -> str:
    """The domain for Message-IDs: the public site's host name, else the sender's domain."""
    host = urlsplit(base_url).hostname or ""
    if "." in host and not _is_address(host):
        return host
    sender = parseaddr(mail_from)[1]
    return sender.rpartition("@")[2].strip().lower() or "localhost"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
