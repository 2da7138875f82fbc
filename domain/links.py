"""Signed e-mail links: one serializer per purpose (its own salt), telling expired from invalid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class LinkCheck:
    status: str  # "valid" | "expired" | "invalid"
    data: Any = None


class LinkSigner:
    def __init__(self, secret_key: str | list[str], purpose: str, max_age: int):
        """*secret_key* may be a list (oldest first, as itsdangerous takes it): the last signs, any verifies."""
        self._serializer = URLSafeTimedSerializer(secret_key, salt=f"kapu.link.{purpose}")
        self.max_age = max_age

    def sign(self, payload) -> str:
        return self._serializer.dumps(payload)

    def check(self, token: str | None) -> LinkCheck:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return LinkCheck("invalid")
        try:
            return LinkCheck("valid", self._serializer.loads(token, max_age=self.max_age))
        except SignatureExpired:
            return LinkCheck("expired")
        except (BadData, UnicodeError, ValueError, TypeError):
            return LinkCheck("invalid")
