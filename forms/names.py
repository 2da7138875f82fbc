"""Names and usernames that cannot carry phishing text: no web-address shapes, no mixed scripts."""

from __future__ import annotations

import functools
import re
import unicodedata

from flask_babel import lazy_gettext as _l
from publicsuffixlist import PublicSuffixList
from wtforms.validators import ValidationError

FULL_NAME_MIN, FULL_NAME_MAX = 2, 100
_NAME_PUNCTUATION = frozenset(" .-'’")
# A dot ends an initial or an abbreviation ("Dr. Kiss J."): it is followed by a space or ends the name,
# so no part of a name reads as a domain (kapu.hu) that a mail client would turn into a link.
_DOT_INSIDE_WORD = re.compile(r"\.[^ ]")
# Reserved for documentation and local use (RFC 2606, 6761, 6762, 7686): not in the public suffix list.
_RESERVED_ENDINGS = frozenset({"example", "test", "invalid", "localhost", "local", "onion", "internal", "lan"})
# Scripts that are written together (Unicode TS #39, "highly restrictive"): Japanese, Chinese, Korean.
_SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})
# What ends a host name for a link finder: anything but letters, digits, dots and hyphens, and a double dot.
_NOT_IN_HOST_NAMES = re.compile(r"[^\w.\-]|_|\.{2,}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}", re.ASCII)


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    # The packaged Public Suffix List snapshot (no network); loaded once per process, on first use.
    return PublicSuffixList(accept_unknown=False)


def full_name_problem(name: str) -> str | None:
    """Why *name* (already NFKC and trimmed) is not a person's name, or None: letters, spaces, `.-'`."""
    if not FULL_NAME_MIN <= len(name) <= FULL_NAME_MAX:
        return "length"
    if any(not unicodedata.category(ch).startswith(("L", "M")) and ch not in _NAME_PUNCTUATION for ch in name):
        return "characters"
    if not any(unicodedata.category(ch).startswith("L") for ch in name) or _DOT_INSIDE_WORD.search(name):
        return "characters"
    return None


def looks_like_web_address(text: str) -> bool:
    """True for www./http starts, punycode and anything ending in a real or reserved domain ending.

    Each run a link finder could read as a host name counts on its own: in "kapu.hu_1" or "kapu.hu-" a mail
    client still links kapu.hu.
    """
    folded = text.casefold()
    if "xn--" in folded or "://" in folded or "@" in folded:
        return True
    return any(_host_shaped(run.strip(".-")) for run in _NOT_IN_HOST_NAMES.split(folded))


def _host_shaped(run: str) -> bool:
    """A www/http start, an IPv4 address, or a domain ending after any of its dots ("kapu.hu.1" holds kapu.hu)."""
    if run.startswith(("www", "http")) or _IPV4.fullmatch(run):
        return True
    labels = run.split(".")
    # A public suffix is at most a few labels long: looking at the last five keeps the work linear in the length.
    return any(
        labels[end] in _RESERVED_ENDINGS
        or _public_suffixes().publicsuffix(".".join(labels[max(0, end - 4) : end + 1])) is not None
        for end in range(1, len(labels))
    )


def scripts_of(text: str) -> set[str]:
    """The Unicode scripts of *text*'s letters; digits and punctuation (Common) and marks belong to none."""
    from confusable_homoglyphs import categories  # its tables load at the first name checked, not at every start

    return {categories.aliases_categories(ch)[0] for ch in text} - _NEUTRAL_SCRIPTS


def mixes_scripts(text: str) -> bool:
    """True when letters of several scripts are mixed, as in a Cyrillic "а" inside "anna"."""
    scripts = scripts_of(text)
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS)


def is_inert_in_mail(text: str | None) -> bool:
    """True when a mail client would not turn *text* into a link (mails drop or replace other user text)."""
    return not text or not any(looks_like_web_address(word.strip(".,;:!?()'\"")) for word in text.split())


class PersonName:
    def __call__(self, form, field):
        problem = full_name_problem(field.data or "")
        if problem == "length":
            raise ValidationError(
                _l("A name is %(min)d to %(max)d characters long.", min=FULL_NAME_MIN, max=FULL_NAME_MAX)
            )
        if problem:
            raise ValidationError(
                _l(
                    "A name may contain only letters, spaces, full stops, hyphens and "
                    "apostrophes, and a full stop only at the end of a word."
                )
            )


class NotAWebAddress:
    def __call__(self, form, field):
        if field.data and looks_like_web_address(field.data):
            raise ValidationError(
                _l(
                    "A username cannot look like a web address: it cannot start with www "
                    "or http and cannot end in a domain ending such as .hu or .com."
                )
            )


class OneScript:
    def __call__(self, form, field):
        if field.data and mixes_scripts(field.data):
            raise ValidationError(
                _l(
                    "Use the letters of one alphabet in a username (do not mix, for example, "
                    "Latin and Cyrillic letters)."
                )
            )
