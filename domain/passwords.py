"""Password policy (NIST 800-63B: length and blocklist, no composition rules) and argon2id hashing."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

# Above any passphrase a person types; caps the work done before hashing.
MAX_LENGTH = 256
# zxcvbn refuses longer input; a strong 72-character prefix makes the whole strong enough.
_ANALYSED_PREFIX = 72
# zxcvbn score 0-2 means fewer than 10^8 guesses: common, breached-style or trivially patterned.
_MIN_SCORE = 3

TOO_SHORT = "too_short"
TOO_LONG = "too_long"
TOO_COMMON = "too_common"
CONTAINS_USERNAME = "contains_username"


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = MAX_LENGTH

    def problems(self, password: str, username: str | None = None) -> list[str]:
        """The rules *password* breaks, in the order a person should fix them."""
        if len(password) > self.max_length:
            return [TOO_LONG]
        found = []
        if len(password) < self.min_length:
            found.append(TOO_SHORT)
        if username and _contains_username(password, username):
            found.append(CONTAINS_USERNAME)
        elif password and _too_guessable(password, username):
            found.append(TOO_COMMON)
        return found


def _contains_username(password: str, username: str) -> bool:
    folded_password = _fold(password)
    folded_username = _fold(username).strip()
    if len(folded_username) < 3:
        return False
    variants = {folded_username, folded_username[::-1], folded_username.rstrip("0123456789")}
    return any(len(v) >= 3 and v in folded_password for v in variants)


def _too_guessable(password: str, username: str | None) -> bool:
    user_inputs = [username] if username else []
    return zxcvbn(password[:_ANALYSED_PREFIX], user_inputs=user_inputs)["score"] < _MIN_SCORE


def new_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's RFC 9106 low-memory profile (t=3, 64 MiB, p=4), above OWASP's floor."""
    return PasswordHasher()


def verify(hasher: PasswordHasher, stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check *password*; on success also return a fresh hash when the stored parameters are outdated."""
    if not stored_hash:
        return False, None
    try:
        hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if hasher.check_needs_rehash(stored_hash):
        return True, hasher.hash(password)
    return True, None
