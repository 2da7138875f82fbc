"""Password policy (NIST 800-63B-4: length and blocklist, no composition rules) and argon2id hashing."""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from math import prod

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION

import turns

# 800-63B-4: a password that is the only factor SHALL be at least 15 characters.
MIN_LENGTH = 15
# Above any passphrase a person types; caps the work done before hashing.
MAX_LENGTH = 256
# zxcvbn's cost grows with length (zxcvbn-rs: 30 characters 1 ms, 256 about 10 ms) and steeply with look-alike
# characters such as "4@1|7$" (each reading is matched anew: 17 of them cost 45 ms, 60 of them half a second).
# At most the first 16 characters are analysed, fewer when they allow more than 4 l33t readings; live and
# on submit alike. Guessing the whole means guessing its beginning too: a strong prefix makes it strong.
_ANALYSED_PREFIX = 16
_MAX_L33T_READINGS = 4
# The characters zxcvbn reads as each letter (its l33t table, the same in every port).
_L33T_STAND_INS = {
    "a": "4@", "b": "8", "c": "({[<", "e": "3", "g": "69", "i": "1!|", "l": "1|7",
    "o": "0", "s": "$5", "t": "+7", "x": "%", "z": "2",
}  # fmt: skip
_STAND_IN = re.compile(f"[{re.escape(''.join(_L33T_STAND_INS.values()))}]")
# A visitor's verdicts are remembered this long, at most this many per process (see RememberedVerdicts).
REMEMBER_SECONDS = 15 * 60
REMEMBERED_VERDICTS = 1024
# zxcvbn score 0-2 means fewer than 10^8 guesses: common, breached-style or trivially patterned.
_MIN_SCORE = 3
# The service's own names (800-63B-4 "context-specific words"), in folded form: no accents, lower case.
SERVICE_WORDS = ("ugyfelkapu", "ugyfel", "kapu")
# A password whose letters, once the service's names are taken out, are fewer than this is built from them.
_MIN_OWN_LETTERS = 4
# What people type instead of letters ("K4pu", "Ugyf3lk@pu").
_LOOKALIKES, _READ_AS = "0134578@$!|", "oleastbasil"
_READ_LOOKALIKES = str.maketrans(_LOOKALIKES, _READ_AS)
_NOT_LETTER = re.compile(r"[^a-z]+")

TOO_SHORT = "too_short"
TOO_LONG = "too_long"
TOO_COMMON = "too_common"
CONTAINS_USERNAME = "contains_username"


def normalise(password: str) -> str:
    """NFKC: the same password typed on another keyboard (composed or decomposed accents) is the same."""
    return unicodedata.normalize("NFKC", password)


def _fold(text: str) -> str:
    return normalise(text).casefold()


class _CharacterTable(dict):
    """A str.translate table of what *one* does to a character, filled as characters are met: once known, a
    character costs a lookup rather than a call (and a miss no KeyError). At most _KNOWN_CHARACTERS are kept."""

    def __init__(self, one):
        super().__init__()
        self._one = one

    def __missing__(self, code_point):
        done = self._one(chr(code_point))
        if len(self) < _KNOWN_CHARACTERS:
            self[code_point] = done
        return done


def _bare_character(character: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", character) if not unicodedata.combining(ch))


_KNOWN_CHARACTERS = 4096
# Decomposition is per character, and canonical ordering moves only combining marks: a text decomposed whole and
# stripped of its marks is each of its characters decomposed and stripped (tests/test_passwords.py holds it so).
_BARE_CHARACTERS = _CharacterTable(_bare_character)
_SKELETON_CHARACTERS = _CharacterTable(lambda character: character.translate(_READ_LOOKALIKES))


def _bare(folded: str) -> str:
    """A _fold-ed text with its accents dropped."""
    return folded if folded.isascii() else folded.translate(_BARE_CHARACTERS)


_SKELETON_BYTES = bytes.maketrans(_LOOKALIKES.encode(), _READ_AS.encode())


def _skeleton(bare: str) -> str:
    """A _bare text with look-alike digits and symbols read as letters: what a guesser tries."""
    if bare.isascii():  # nearly always, and bytes.translate is one table lookup per byte
        return bare.encode("ascii").translate(_SKELETON_BYTES).decode("ascii")
    return bare.translate(_SKELETON_CHARACTERS)


class RememberedVerdicts:
    """zxcvbn's verdicts, remembered per visitor in this process for REMEMBER_SECONDS.

    zxcvbn costs a live check as much as all the rest of it, and it sees at most the first 16 characters: every
    check of a passphrase after its 16th character, and the submit, ask it the same question. A verdict is kept
    under a keyed hash (BLAKE2b, its key made at start and kept only in memory) of the visitor's secret, the
    username and what zxcvbn saw: no password is kept, and one visitor's verdicts are never another's, so a
    quicker answer cannot tell anyone what somebody else typed. Oldest first out, when full or expired.
    """

    def __init__(self, size=REMEMBERED_VERDICTS, seconds=REMEMBER_SECONDS, clock=time.monotonic):
        self._keyed = hashlib.blake2b(key=secrets.token_bytes(32))  # copied for each digest: the key hashed once
        self._size, self._seconds, self._clock = size, seconds, clock
        self._verdicts = OrderedDict()  # digest -> (verdict, remembered until), oldest first
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._verdicts)

    def verdict(self, visitor: str, username: str | None, analysed: str, judge) -> bool:
        """judge(analysed, username), remembered for *visitor*."""
        hasher = self._keyed.copy()
        hasher.update(_framed(visitor, username or "", analysed))
        digest = hasher.digest()
        now = self._clock()
        with self._lock:
            self._forget(now)
            kept = self._verdicts.get(digest)
            if kept is not None:
                return kept[0]
        verdict = judge(analysed, username)
        with self._lock:
            self._verdicts.pop(digest, None)
            self._verdicts[digest] = (verdict, now + self._seconds)
            self._forget(now)
        return verdict

    def _forget(self, now):
        """Drop the expired verdicts and those over the size, oldest first (the order they expire in)."""
        verdicts = self._verdicts
        while verdicts and (len(verdicts) > self._size or next(iter(verdicts.values()))[1] <= now):
            verdicts.popitem(last=False)


def _framed(visitor: str, username: str, analysed: str) -> bytes:
    """The three as one message no other three make: the first two after their lengths, the last the rest."""
    return f"{len(visitor)}:{visitor}{len(username)}:{username}{analysed}".encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    # Where zxcvbn's verdicts are remembered for the visitors a check names (none: every check asks zxcvbn).
    verdicts: RememberedVerdicts | None = field(default=None, compare=False, repr=False)

    def problems(self, password: str, username: str | None = None, visitor: str | None = None) -> list[str]:
        """The rules *password* breaks, in the order a person should fix them.

        *visitor* is a secret only this visitor's requests carry (their session's CSRF secret): zxcvbn's verdict
        is remembered for them (see RememberedVerdicts)."""
        if len(password) > self.max_length:
            return [TOO_LONG]
        password = normalise(password)
        found = []
        if len(password) < self.min_length:
            found.append(TOO_SHORT)
        # Once, for the rules below: the password as _fold leaves it (it is in NFKC already), without accents,
        # and as a guesser reads it.
        folded = password.casefold()
        bare = _bare(folded)
        skeleton = _skeleton(bare)
        if username and _contains_username(folded, skeleton, username):
            found.append(CONTAINS_USERNAME)
        elif password and (
            _built_from_service_words(bare, skeleton) or self._too_guessable(password, username, visitor)
        ):
            found.append(TOO_COMMON)
        return found

    def _too_guessable(self, password: str, username: str | None, visitor: str | None) -> bool:
        analysed = analysed_prefix(password)
        # A password shorter than what zxcvbn may see changes what it sees at every keystroke: no later check
        # would find its verdict.
        if visitor and self.verdicts is not None and len(password) >= _ANALYSED_PREFIX:
            return self.verdicts.verdict(visitor, username, analysed, _zxcvbn_says_guessable)
        return _zxcvbn_says_guessable(analysed, username)


def _contains_username(folded: str, skeleton: str, username: str) -> bool:
    """The password (given _fold-ed and as its _skeleton) holds one of the username's spellings."""
    short = len(username) <= _REMEMBERED_USERNAME
    spellings = _remembered_username_spellings(username) if short else _username_spellings(username)
    return any(spelling in folded or spelling in skeleton for spelling in spellings)


# A typed username (at most 64 characters, a malformed one up to the body's cap) is remembered up to this length.
_REMEMBERED_USERNAME = 64


def _username_spellings(username: str) -> tuple[str, ...]:
    """The spellings of *username* a password must not contain: itself, reversed, without its trailing digits,
    and also without its dots, hyphens and underscores (each at least 3 characters)."""
    folded = _fold(username).strip()
    if len(folded) < 3:
        return ()
    bare = folded.rstrip("0123456789")
    variants = dict.fromkeys((folded, folded[::-1], bare, re.sub(r"[._\-]", "", bare)))
    return tuple(variant for variant in variants if len(variant) >= 3)


# A citizen's every check of a new password names the same username: its spellings are worked out once.
_remembered_username_spellings = functools.lru_cache(maxsize=1024)(_username_spellings)


def _built_from_service_words(bare: str, read: str) -> bool:
    """ "Kapu2024!Kapu", "ÜgyfélK4pu!!" (given _bare and its _skeleton): the service's name with digits and symbols
    around it."""
    if "kapu" not in read and "ugyfel" not in read:  # every one of SERVICE_WORDS holds one of these
        return False
    plain, found = list(bare), False
    for word in SERVICE_WORDS:  # longest first, so "ugyfelkapu" goes as a whole
        for match in re.finditer(word, read):
            found = True
            plain[match.start() : match.end()] = " " * len(word)
        read = read.replace(word, " " * len(word))
    own_letters = _NOT_LETTER.sub("", "".join(plain))
    return found and len(own_letters) < _MIN_OWN_LETTERS


def _l33t_readings(text: str) -> int:
    """How many l33t readings zxcvbn tries for *text*: per letter, the product of its stand-ins present."""
    return prod(len([sub for sub in subs if sub in text]) or 1 for subs in _L33T_STAND_INS.values())


def analysed_prefix(password: str) -> str:
    """What zxcvbn sees of *password*: a beginning short enough to bound its cost (see _ANALYSED_PREFIX)."""
    text = password[:_ANALYSED_PREFIX]
    if not _STAND_IN.search(text):
        return text  # one reading
    while len(text) > 1 and _l33t_readings(text) > _MAX_L33T_READINGS:
        text = text[:-1]
    return text


def _zxcvbn_says_guessable(analysed: str, username: str | None) -> bool:
    """zxcvbn's verdict on *analysed* (see analysed_prefix).

    zxcvbn-rs (Rust, about 0.15 ms for 16 characters; the Python port took 1.5 ms) is imported here, not at
    start: its word lists cost a process 9 MB, which a worker that never checks a password need not carry."""
    from zxcvbn_rs_py import zxcvbn

    user_inputs = [*SERVICE_WORDS, "ügyfélkapu", "ügyfél"] + ([username] if username else [])
    return int(zxcvbn(analysed, user_inputs).score) < _MIN_SCORE


# How many argon2 computations this process runs at once. Each takes one core for ~0.2-0.3 s and 64 MiB: more at
# once than the process's share of cores only makes every one slower, and while they wait for a core they hold
# the server threads that cheap requests (a forgotten password, a page) need. The server sets it per worker.
_hashing_slots = threading.BoundedSemaphore(os.cpu_count() or 1)


def limit_concurrent_hashing(slots: int):
    """Let at most *slots* argon2 hashes or verifications run at once in this process (the rest queue)."""
    global _hashing_slots
    _hashing_slots = threading.BoundedSemaphore(max(1, slots))


class NormalisingHasher(PasswordHasher):
    """argon2id that hashes the NFKC form, so every caller stores what `verify` below checks first.

    Every hash and verification takes one of the process's hashing slots (see limit_concurrent_hashing).
    """

    def hash(self, password, *, salt=None):
        text = normalise(password) if isinstance(password, str) else password
        with turns.paused(), _hashing_slots:
            return super().hash(text, salt=salt)

    def verify(self, hash, password):  # noqa: A002 - argon2-cffi's parameter name
        with turns.paused(), _hashing_slots:
            return super().verify(hash, password)


def normalising(hasher: PasswordHasher) -> NormalisingHasher:
    """The same argon2 parameters, hashing the NFKC form."""
    if isinstance(hasher, NormalisingHasher):
        return hasher
    return NormalisingHasher.from_parameters(hasher._parameters)


def new_hasher() -> NormalisingHasher:
    """argon2id, t=3, 64 MiB (RFC 9106's low-memory profile, above OWASP's floor) on one lane (p=1).

    A server runs many logins at once: spreading one hash over four threads buys no throughput, it only takes
    the other cores from everyone else. Hashes made with p=4 still verify and are replaced at the next login.
    """
    return NormalisingHasher(parallelism=1)


def decoy_hash(hasher: PasswordHasher) -> str:
    """An argon2id hash with *hasher*'s parameters that no password matches, made without hashing anything.

    Verifying costs what the parameters say, whatever the salt and digest: a random digest makes a miss cost
    exactly what a wrong password costs, from the first miss on, and starting a process pays nothing for it.
    """

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii").rstrip("=")

    salt, digest = secrets.token_bytes(hasher.salt_len), secrets.token_bytes(hasher.hash_len)
    parameters = f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
    return f"$argon2id$v={ARGON2_VERSION}${parameters}${b64(salt)}${b64(digest)}"


def _verifies(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify(hasher: PasswordHasher, stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check *password*; on success also return a fresh hash when the stored one should be replaced.

    The NFKC form is tried first. Hashes made before passwords were normalised hold the form as typed:
    that is tried next, and a match is rehashed (in NFKC) so the account moves to the new form.
    """
    if not stored_hash:
        return False, None
    normalised = normalise(password)
    if _verifies(hasher, stored_hash, normalised):
        return True, (hasher.hash(normalised) if hasher.check_needs_rehash(stored_hash) else None)
    if normalised != password and _verifies(hasher, stored_hash, password):
        return True, hasher.hash(normalised)
    return False, None
