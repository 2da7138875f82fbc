import pytest
from argon2 import PasswordHasher

from domain import passwords
from domain.passwords import PasswordPolicy

POLICY = PasswordPolicy(min_length=12)


@pytest.mark.parametrize(
    "password, username, expected",
    [
        ("a" * 11, None, [passwords.TOO_SHORT, passwords.TOO_COMMON]),
        ("hosszú kert ló", None, []),
        ("correct horse battery staple", None, []),
        ("password1234", None, [passwords.TOO_COMMON]),
        ("qwertyuiop12", None, [passwords.TOO_COMMON]),
        ("kovacsjanos2024", "kovacsjanos", [passwords.CONTAINS_USERNAME]),
        ("xx SONAJSCAVOK xx tulip", "kovacsjanos", [passwords.CONTAINS_USERNAME]),
        ("x" * 257, None, [passwords.TOO_LONG]),
    ],
)
def test_policy_names_the_rules_a_password_breaks(password, username, expected):
    assert POLICY.problems(password, username) == expected


def test_minimum_length_is_exact_and_configurable():
    policy = PasswordPolicy(min_length=15)
    assert passwords.TOO_SHORT in policy.problems("mzqktvwrpxabyu")
    assert passwords.TOO_SHORT not in policy.problems("mzqktvwrpxabyuf")


def test_long_unicode_passphrases_with_spaces_are_accepted_untruncated():
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    for length in (64, 128):
        phrase = ("árvíztűrő tükörfúrógép " * 10)[:length]
        assert POLICY.problems(phrase) == []
        stored = hasher.hash(phrase)
        assert passwords.verify(hasher, stored, phrase) == (True, None)
        assert passwords.verify(hasher, stored, phrase[:-1])[0] is False


def test_production_hashes_are_argon2id_at_least_at_owasp_minimum():
    hasher = passwords.new_hasher()
    stored = hasher.hash("some long passphrase here")
    assert stored.startswith("$argon2id$")
    params = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2 and int(params["p"]) >= 1


def test_verify_returns_a_new_hash_when_parameters_were_raised():
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    stored = weak.hash("some long passphrase here")
    ok, new_hash = passwords.verify(stronger, stored, "some long passphrase here")
    assert ok and new_hash and "m=16,t=2" in new_hash
    assert passwords.verify(stronger, new_hash, "some long passphrase here") == (True, None)
    assert passwords.verify(stronger, "not a hash", "x") == (False, None)
