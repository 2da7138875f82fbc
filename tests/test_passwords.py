import threading
import time
import unicodedata

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import passwords
from domain.passwords import PasswordPolicy

POLICY = PasswordPolicy()


@pytest.mark.parametrize(
    "password, username, expected",
    [
        ("a" * 14, None, [passwords.TOO_SHORT, passwords.TOO_COMMON]),
        ("hosszú kert ló alatt", None, []),
        ("correct horse battery staple", None, []),
        ("password1234", None, [passwords.TOO_SHORT, passwords.TOO_COMMON]),
        ("password12345678", None, [passwords.TOO_COMMON]),
        ("qwertyuiop123456", None, [passwords.TOO_COMMON]),
        ("kovacsjanos2024", "kovacsjanos", [passwords.CONTAINS_USERNAME]),
        ("xx SONAJSCAVOK xx tulip", "kovacsjanos", [passwords.CONTAINS_USERNAME]),
        # The username plus digits, written without its dot or with look-alike digits.
        ("kovacs.janos1234", "kovacs.janos", [passwords.CONTAINS_USERNAME]),
        ("kovacsjanos19870412", "kovacs.janos", [passwords.CONTAINS_USERNAME]),
        ("K0vacsJan0s!!2024", "kovacs.janos", [passwords.CONTAINS_USERNAME]),
        # The service's own names and their obvious variants.
        ("Kapu2024!Kapu", None, [passwords.TOO_SHORT, passwords.TOO_COMMON]),
        ("Kapu2024!Kapu2024!", None, [passwords.TOO_COMMON]),
        ("ugyfelkapu123456", None, [passwords.TOO_COMMON]),
        ("ÜgyfélK4pu2024!!", None, [passwords.TOO_COMMON]),
        ("kapukapukapukapu", None, [passwords.TOO_COMMON]),
        ("Ügyfélkapu Ügyfélkapu", None, [passwords.TOO_COMMON]),
        # ... while a passphrase that merely mentions the service is fine.
        ("ügyfélkapu jelszavam nagyon hosszú", None, []),
        ("x" * 257, None, [passwords.TOO_LONG]),
    ],
)
def test_policy_names_the_rules_a_password_breaks(password, username, expected):
    assert POLICY.problems(password, username) == expected


def _plainly_bare(text):
    """What the rules mean by a bare text, written plainly: NFKC, case folded, NFKD, combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _plainly_contains_username(password, username):
    """The username rule written plainly: any spelling of 3 or more characters, in the folded password or in
    its bare form with look-alikes read as letters."""
    folded = unicodedata.normalize("NFKC", username).casefold().strip()
    if len(folded) < 3:
        return False
    bare = folded.rstrip("0123456789")
    spellings = [folded, folded[::-1], bare, bare.replace(".", "").replace("_", "").replace("-", "")]
    haystacks = [
        unicodedata.normalize("NFKC", password).casefold(),
        _plainly_bare(password).translate(str.maketrans("0134578@$!|", "oleastbasil")),
    ]
    return any(len(s) >= 3 and s in hay for s in spellings for hay in haystacks)


USERNAME_LIKE = st.text(alphabet="kovacsjánoś.-_1290 ", max_size=14)
PASSWORD_LIKE = st.text(alphabet="KOVACSkovacsjánoś.-_1290 0134578@$!|x\u0301ﬁ", max_size=30)


@settings(max_examples=300, deadline=None)
@given(password=PASSWORD_LIKE | st.text(max_size=30), username=USERNAME_LIKE | st.text(max_size=10))
def test_property_the_username_rule_is_its_plain_reading(password, username):
    """The rules read the password once and remember a username's spellings: the same answers as read plainly."""
    for _ in range(2):  # the second time, the username's spellings are remembered
        found = passwords.CONTAINS_USERNAME in POLICY.problems(password, username)
        assert found == (bool(username) and _plainly_contains_username(password, username))


def test_dropping_accents_is_its_plain_reading_past_the_characters_it_remembers():
    text = "".join(map(chr, range(0x300, 0x300 + 2 * passwords._KNOWN_CHARACTERS)))
    for _ in range(2):
        assert passwords._bare(unicodedata.normalize("NFKC", text).casefold()) == _plainly_bare(text)
    assert len(passwords._BARE_CHARACTERS) <= passwords._KNOWN_CHARACTERS
    assert passwords._bare("árvíztűrő tükörfúrógép") == "arvizturo tukorfurogep"


# Letters with several marks (in either order), Hangul, compatibility forms, marks alone, look-alikes.
MARKED_TEXT = st.text(alphabet="aeoőŐǖṏ\u0301\u0323\u0308\u031b한ﬁ²ß0134578@$!|x ", max_size=30)


@settings(max_examples=300, deadline=None)
@given(text=MARKED_TEXT | st.text(max_size=30))
def test_property_accents_are_dropped_per_character_as_from_the_whole_text(text):
    """_bare reads each character alone (a lookup once met): the same as decomposing the whole text, where canonical
    ordering may move marks; and _skeleton reads the look-alikes as a plain translation would."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for _ in range(2):  # the second time, every character is known
        bare = passwords._bare(folded)
        assert bare == _plainly_bare(text)
        assert passwords._skeleton(bare) == bare.translate(str.maketrans("0134578@$!|", "oleastbasil"))


def test_every_service_word_is_found_by_the_quick_test_before_the_reading():
    for word in passwords.SERVICE_WORDS:
        assert passwords._built_from_service_words(word, word)


def test_minimum_length_is_15_by_default_and_exact():
    assert PasswordPolicy().min_length == 15
    assert passwords.TOO_SHORT in POLICY.problems("mzqktvwrpxabyu")
    assert passwords.TOO_SHORT not in POLICY.problems("mzqktvwrpxabyuf")
    longer = PasswordPolicy(min_length=20)
    assert passwords.TOO_SHORT in longer.problems("mzqktvwrpxabyufhgjd")
    assert longer.problems("mzqktvwrpxabyufhgjdc") == []


def test_a_long_lowercase_passphrase_is_accepted_without_composition_rules():
    assert POLICY.problems("a nagymama kertjében virágzik a levendula") == []


def test_length_is_counted_after_nfkc():
    """Compatibility characters count as what they become, as the stored hash sees them."""
    assert passwords.TOO_SHORT in POLICY.problems("ﬁ" * 7)  # 7 characters typed, 14 after NFKC
    assert passwords.TOO_SHORT not in POLICY.problems("ﬁ" * 8)  # 16 after NFKC


FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
NFC = unicodedata.normalize("NFC", "árvíztűrő tükörfúrógép")
NFD = unicodedata.normalize("NFD", NFC)


def test_nfc_set_and_nfd_typed_verify_both_ways():
    assert NFC != NFD
    hasher = passwords.normalising(FAST)
    assert passwords.verify(hasher, hasher.hash(NFC), NFD) == (True, None)
    assert passwords.verify(hasher, hasher.hash(NFD), NFC) == (True, None)
    assert passwords.verify(hasher, hasher.hash(NFC), NFD[:-1])[0] is False


def test_a_hash_made_before_normalisation_still_verifies_and_is_rehashed():
    """An old hash holds the decomposed form as typed: it still logs in, and moves to the NFKC form."""
    old = FAST.hash(NFD)  # what the earlier code stored for an NFD-typed password
    ok, new_hash = passwords.verify(passwords.normalising(FAST), old, NFD)
    assert ok and new_hash
    assert FAST.verify(new_hash, NFC)
    assert passwords.verify(passwords.normalising(FAST), new_hash, NFC) == (True, None)
    assert passwords.verify(passwords.normalising(FAST), old, "valami egészen más jelszó") == (False, None)


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


def test_the_production_hasher_hashes_the_nfkc_form():
    assert isinstance(passwords.new_hasher(), passwords.NormalisingHasher)
    assert FAST.verify(passwords.normalising(FAST).hash(NFD), NFC)


def test_a_hash_made_with_four_lanes_verifies_and_is_replaced_by_a_one_lane_hash():
    assert passwords.new_hasher().parallelism == 1  # what serve hashes with
    # The same shape as production's hasher at a fraction of its memory: the lanes are what this test is about.
    production = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    four_lanes = PasswordHasher(time_cost=production.time_cost, memory_cost=production.memory_cost, parallelism=4)
    phrase = "some long passphrase here"
    ok, new_hash = passwords.verify(production, four_lanes.hash(phrase), phrase)
    assert ok and "p=1" in new_hash.split("$")[3]
    assert passwords.verify(production, new_hash, phrase) == (True, None)


@pytest.mark.parametrize("operation", ["hash", "verify"])
def test_no_more_hashes_run_at_once_than_the_process_has_slots(monkeypatch, operation):
    """A burst of logins queues for the slots instead of crowding the cores (and the threads cheap requests need)."""
    running, peak, guard = 0, 0, threading.Lock()

    def slow(self, *args, **kwargs):
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with guard:
            running -= 1
        return True

    monkeypatch.setattr(PasswordHasher, operation, slow)
    monkeypatch.setattr(passwords, "_hashing_slots", passwords._hashing_slots)  # restored after the test
    passwords.limit_concurrent_hashing(2)
    hasher = passwords.normalising(FAST)
    call = (
        (lambda: hasher.hash("some long passphrase here"))
        if operation == "hash"
        else (lambda: hasher.verify("$argon2id$stored", "some long passphrase here"))
    )
    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert peak == 2
