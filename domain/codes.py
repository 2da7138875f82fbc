"""One-time codes: over 50 bits from a CSPRNG, an alphabet without look-alikes, stored only as a salted keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets

# Read off a phone or heard from a screen reader, typed back without guessing: no character that looks like
# another (0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B, U/V) and no vowel, so a group is never read out as a word.
ALPHABET = "23456789CFHJKMNPRTVX"
LENGTH = 12  # 12 characters x log2(20) = 51.9 bits of entropy
GROUP = 4  # shown as three groups of four
EXAMPLE = "7KM4-XH9P-3RTC"  # what forms and help show as the code's shape
BITS = LENGTH * math.log2(len(ALPHABET))
# Codes issued before this alphabet (10 characters of 23456789ABCDEFGHJKLMNPQRSTUVWXYZ) live for the code TTL
# after an upgrade: still accepted as typed. Stored codes are keyed hashes, so only the typed form is checked.
EARLIER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
EARLIER_LENGTH = 10
EARLIER_GROUP = 5  # as its mail showed it: FK3EG-NAKET
# In a code of today's length, a look-alike typed for one of ours can only mean ours (S for 5, Z for 2, ...).
_LOOK_ALIKES = str.maketrans("SZBGU", "5286V")
# Spaces and hyphens, including the dashes a phone's keyboard or a mail client puts in place of a hyphen.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_CURRENT = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")
_EARLIER = re.compile(f"[{EARLIER_ALPHABET}]{{{EARLIER_LENGTH}}}")
# Longest input worth looking at: the code plus generous separators.
MAX_TYPED_LENGTH = 40


def generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str | None) -> str | None:
    """The canonical code for what a person typed (any case, spaces, dashes or dots), or None if malformed."""
    if not typed or len(typed) > MAX_TYPED_LENGTH:
        return None
    candidate = _SEPARATORS.sub("", typed).upper()
    if len(candidate) == LENGTH:
        candidate = candidate.translate(_LOOK_ALIKES)
        return candidate if _CURRENT.fullmatch(candidate) else None
    return candidate if _EARLIER.fullmatch(candidate) else None


def display(code: str) -> str:
    """The code in groups joined by hyphens: easier to read, say and type than one run of characters."""
    size = EARLIER_GROUP if len(code) == EARLIER_LENGTH else GROUP
    return "-".join(code[i : i + size] for i in range(0, len(code), size))


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
