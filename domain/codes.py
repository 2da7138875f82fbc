"""One-time codes: 50 bits from a CSPRNG, an alphabet without look-alikes, stored only as a salted keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# No 0/O, 1/I: what a citizen reads off a phone they can type back without guessing.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 10  # 10 characters x 5 bits = 50 bits of entropy
GROUP = 5
_SEPARATORS = re.compile(r"[\s\-]+")
_VALID = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")
# Longest input worth looking at: the code plus generous separators.
MAX_TYPED_LENGTH = 40


def generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str | None) -> str | None:
    """The canonical code for what a person typed (any case, spaces or dashes), or None if malformed."""
    if not typed or len(typed) > MAX_TYPED_LENGTH:
        return None
    candidate = _SEPARATORS.sub("", typed).upper()
    return candidate if _VALID.match(candidate) else None


def display(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def new_salt() -> str:
    """Per-row salt (ASVS 6.5.2): equal codes of two rows never share a hash."""
    return secrets.token_hex(16)


def keyed_hash(key: bytes | tuple[bytes, ...], code: str, salt: str | None = None) -> str:
    """The stored form of *code*; with a key ring (current key first), under the current key.

    Rows stored before salts existed (salt None) keep the unsalted form, so their codes still work.
    """
    current = key[0] if isinstance(key, tuple) else key
    message = code if salt is None else f"{salt}:{code}"
    return hmac.new(current, message.encode("ascii"), hashlib.sha256).hexdigest()


def matches(key: bytes | tuple[bytes, ...], code: str, stored_hash: str, salt: str | None = None) -> bool:
    """Constant-time check under the current key or any fallback key (codes issued before a rotation)."""
    ring = key if isinstance(key, tuple) else (key,)
    found = False
    for each in ring:  # every key is tried, so the time does not tell which one matched
        found |= hmac.compare_digest(keyed_hash(each, code, salt), stored_hash)
    return found
