import math
import re

import pytest

from domain import codes


def test_codes_have_at_least_40_bits_from_an_alphabet_without_look_alikes():
    generated = {codes.generate() for _ in range(200)}
    assert len(generated) == 200
    for code in generated:
        assert len(code) == codes.LENGTH
        assert set(code) <= set(codes.ALPHABET)
    assert codes.LENGTH * math.log2(len(codes.ALPHABET)) >= 40
    assert not set("01IO") & set(codes.ALPHABET)


@pytest.mark.parametrize(
    "typed",
    ["ABCDE-23456", "abcde-23456", " abcde 23456 ", "ABCDE23456", "ab cd e-234 56"],
)
def test_typed_codes_are_accepted_in_any_case_with_spaces_or_dashes(typed):
    assert codes.normalise(typed) == "ABCDE23456"


@pytest.mark.parametrize("typed", ["", None, "ABCDE-2345", "ABCDE-234567", "ABCDO-23456", "ABCDE_23456", "x" * 500])
def test_malformed_codes_are_refused(typed):
    assert codes.normalise(typed) is None


def test_codes_are_shown_in_groups():
    assert codes.display("ABCDE23456") == "ABCDE-23456"


def test_keyed_hash_depends_on_the_key_and_compares_in_constant_time():
    stored = codes.keyed_hash(b"k1", "ABCDE23456")
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert codes.matches(b"k1", "ABCDE23456", stored)
    assert not codes.matches(b"k2", "ABCDE23456", stored)
    assert not codes.matches(b"k1", "ABCDE23457", stored)
