import math
import re

import pytest

from domain import codes

# Characters a reader confuses when reading a code off a screen or paper (any pair of one group).
LOOK_ALIKES = ["0ODQ", "1IL", "2Z", "5S", "6G", "8B", "UV"]


def test_codes_have_at_least_50_bits_from_an_alphabet_without_look_alikes():
    generated = {codes.generate() for _ in range(500)}
    assert len(generated) == 500
    for code in generated:
        assert len(code) == codes.LENGTH
        assert set(code) <= set(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET)
    assert codes.LENGTH * math.log2(len(codes.ALPHABET)) >= 50
    for group in LOOK_ALIKES:
        assert len(set(group) & set(codes.ALPHABET)) <= 1, f"look-alikes {group} in {codes.ALPHABET}"
    assert not set("AEIOUY") & set(codes.ALPHABET), "a vowel lets a screen reader say a group as a word"
    assert set("".join(generated)) == set(codes.ALPHABET)  # every character is used


@pytest.mark.parametrize(
    "typed",
    [
        "7KM4-XH9P-3RTC",
        "7km4-xh9p-3rtc",
        " 7km4 xh9p 3rtc ",
        "7KM4XH9P3RTC",
        "7k m4x-h9p 3-rtc",
        "7KM4\u2010XH9P\u20133RTC",  # the dashes a phone or mail client may put in place of a hyphen
        "7KM4  -  XH9P\t3RTC",
    ],
)
def test_typed_codes_are_accepted_in_any_case_with_spaces_or_dashes(typed):
    assert codes.normalise(typed) == "7KM4XH9P3RTC"


@pytest.mark.parametrize("typed", ["7KM4-XH9P-3RTC", "7KM4-XH9P-3RT5"])
def test_a_look_alike_typed_for_a_character_of_the_code_reads_as_that_character(typed):
    assert codes.normalise(typed.replace("5", "S")) == typed.replace("-", "")
    assert codes.normalise("sZbG-uVXC-2222") == "5286VVXC2222"


@pytest.mark.parametrize(
    "typed",
    ["ABCDE-23456", "abcde 23456", "FK3EG-NAKET", "fk3eg-naket", "SZB8U-V2345"],
)
def test_codes_of_the_earlier_alphabet_are_still_accepted_as_typed(typed):
    """Mailed before the upgrade (10 characters, 32-letter alphabet) and still live for the code TTL."""
    assert codes.normalise(typed) == re.sub(r"[\s-]", "", typed).upper()


@pytest.mark.parametrize(
    "typed",
    [
        "",
        None,
        "7KM4-XH9P-3RT",  # 11
        "7KM4-XH9P-3RTCC",  # 13
        "7KM4-XH9P-3RTO",  # O is no character of a code
        "7KM4-XH9P-3RT1",
        "7KM4_XH9P_3RTC",
        "ABCDE-2345",
        "ABCDE-234567",
        "ABCDO-23456",  # nor of an earlier code
        "ABCDE_23456",
        "x" * 500,
    ],
)
def test_malformed_codes_are_refused(typed):
    assert codes.normalise(typed) is None


def test_codes_are_shown_in_groups():
    assert codes.display("7KM4XH9P3RTC") == "7KM4-XH9P-3RTC"
    assert codes.display("FK3EGNAKET") == "FK3EG-NAKET"  # an earlier code as its mail showed it
    assert codes.normalise(codes.EXAMPLE) is not None


def test_keyed_hash_depends_on_the_key_and_compares_in_constant_time():
    stored = codes.keyed_hash(b"k1", "7KM4XH9P3RTC")
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert codes.matches(b"k1", "7KM4XH9P3RTC", stored)
    assert not codes.matches(b"k2", "7KM4XH9P3RTC", stored)
    assert not codes.matches(b"k1", "7KM4XH9P3RTX", stored)
