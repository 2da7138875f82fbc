"""Signed e-mail links: one serializer per purpose (its own salt), telling expired from invalid.

Activation links also carry their code, encrypted with a key derived for that purpose and bound to the
code's row, so the URL (browser history, proxy logs) never shows a usable code.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from domain import keys

MAX_TOKEN_LENGTH = 512
_NONCE_BYTES = 12
# A sealed code is nonce + ciphertext + tag: far below this once base64-encoded.
_MAX_SEALED_TEXT = 120
_MAX_RELEASED_CODE = 32


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


def _is_row_id(value) -> bool:
    return type(value) is int and 0 < value < 2**63


def _is_released_link(data) -> bool:
    """A link as release b8083a0 mailed it ({"c": row id, "k": code}, signed alike but not encrypted).

    Still read, so an upgrade does not break the links citizens hold; issuing.inspect_link honours one only for a
    code stored before salts (so issued by that release), and the signature's age bounds them: none is left a code
    lifetime after the upgrade."""
    return (
        isinstance(data, dict)
        and data.keys() == {"c", "k"}
        and _is_row_id(data["c"])
        and isinstance(data["k"], str)
        and len(data["k"]) <= _MAX_RELEASED_CODE
    )


@dataclass(frozen=True)
class CodeLink:
    row_id: int
    code: str
    readable: bool = False  # the released shape, code in clear: only for codes that release issued


class CodeLinks:
    """Links that carry a one-time code opaquely: signed (per-purpose salt), the code AES-GCM encrypted."""

    def __init__(self, secret_keys: str | list[str], purpose: str, max_age: int):
        """*secret_keys*: the current key, or the current key first and then earlier ones (they only read)."""
        ring = [secret_keys] if isinstance(secret_keys, str) else list(secret_keys)
        self._signer = LinkSigner(ring[::-1], purpose, max_age)  # itsdangerous signs with the last
        self._ciphers = [AESGCM(keys.derive(key, f"link-code/{purpose}")) for key in ring]
        self._purpose = purpose.encode()

    def _bound_to(self, row_id: int) -> bytes:
        # Associated data: a sealed code only opens for the row (and purpose) it was made for.
        return self._purpose + b"/" + str(row_id).encode()

    def make(self, row_id: int, code: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nonce + self._ciphers[0].encrypt(nonce, code.encode("ascii"), self._bound_to(row_id))
        return self._signer.sign([row_id, base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")])

    def read(self, token: str | None) -> LinkCheck:
        """valid (data: a CodeLink), expired (signed long ago) or invalid (anything else)."""
        check = self._signer.check(token)
        if check.status != "valid":
            return check
        data = check.data
        if _is_released_link(data):
            return LinkCheck("valid", CodeLink(data["c"], data["k"], readable=True))
        if not (
            isinstance(data, list)
            and len(data) == 2
            and _is_row_id(data[0])
            and isinstance(data[1], str)
            and len(data[1]) <= _MAX_SEALED_TEXT
        ):
            return LinkCheck("invalid")
        try:
            sealed = base64.urlsafe_b64decode(data[1] + "=" * (-len(data[1]) % 4))
        except (ValueError, binascii.Error):
            return LinkCheck("invalid")
        for cipher in self._ciphers:
            try:
                plain = cipher.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], self._bound_to(data[0]))
                return LinkCheck("valid", CodeLink(data[0], plain.decode("ascii")))
            except (InvalidTag, ValueError, UnicodeError):
                continue
        return LinkCheck("invalid")
