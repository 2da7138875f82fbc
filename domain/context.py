"""Everything the domain needs from configuration, built once at start (keys derived, signers made)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from domain import keys
from domain.limits import Limits
from domain.links import LinkSigner
from domain.passwords import PasswordPolicy, new_hasher

# compose(kind, language, **context) -> (subject, text body, html body)
Composer = Callable[..., tuple[str, str, str]]


@dataclass
class Kapu:
    code_key: bytes
    sealer: Fernet
    activation_links: LinkSigner
    email_links: LinkSigner
    limits: Limits
    code_ttl: int
    max_attempts: int
    policy: PasswordPolicy
    hasher: PasswordHasher
    base_url: str
    mail_from: str
    default_language: str
    compose: Composer
    # A real argon2id hash to verify against when a username is unknown, so the miss costs the same.
    decoy_hash: str = ""

    @classmethod
    def from_config(cls, config, compose: Composer, hasher: PasswordHasher | None = None):
        secret = config["SECRET_KEY"]
        hasher = hasher or new_hasher()
        return cls(
            code_key=keys.derive(secret, "one-time-code"),
            sealer=Fernet(base64.urlsafe_b64encode(keys.derive(secret, "outbox-seal"))),
            activation_links=LinkSigner(secret, "activate", config["KAPU_CODE_TTL"]),
            email_links=LinkSigner(secret, "email-change", config["KAPU_CODE_TTL"]),
            limits=Limits.from_config(config),
            code_ttl=config["KAPU_CODE_TTL"],
            max_attempts=config["KAPU_CODE_MAX_ATTEMPTS"],
            policy=PasswordPolicy(min_length=config["KAPU_PASSWORD_MIN_LENGTH"]),
            hasher=hasher,
            base_url=config["KAPU_BASE_URL"],
            mail_from=config["KAPU_MAIL_FROM"],
            default_language=config["KAPU_LANGUAGE"],
            compose=compose,
            decoy_hash=hasher.hash("kapu decoy password, never used"),
        )
