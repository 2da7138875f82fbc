"""zxcvbn's verdicts remembered per visitor (domain.passwords.RememberedVerdicts): the same answers as asking
zxcvbn every time, asked once per visitor for what it sees of a passphrase, and never one visitor's for another."""

from __future__ import annotations

import threading

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import live_checks
from domain import passwords
from domain.passwords import PasswordPolicy, RememberedVerdicts
from tests.support.helpers import csrf_token, leave_to_flask, spy_on_shortcut

PASSPHRASE = "kék ég alatt fut a kis vonat"  # zxcvbn sees "kék ég alatt fut"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def asked(monkeypatch):
    """What zxcvbn was asked, in order: (what it saw, the username)."""
    questions = []
    real = passwords._zxcvbn_says_guessable

    def counting(analysed, username):
        questions.append((analysed, username))
        return real(analysed, username)

    monkeypatch.setattr(passwords, "_zxcvbn_says_guessable", counting)
    return questions


def test_a_visitors_checks_after_the_16th_character_ask_zxcvbn_once(asked):
    policy = PasswordPolicy(verdicts=RememberedVerdicts())
    for typed in range(17, len(PASSPHRASE) + 1):
        assert policy.problems(PASSPHRASE[:typed], "kovacs.janos", "visitor one") == []
    assert asked == [("kék ég alatt fut", "kovacs.janos")]


def test_each_visitor_and_each_username_is_asked_for_anew(asked):
    policy = PasswordPolicy(verdicts=RememberedVerdicts())
    policy.problems(PASSPHRASE, "kovacs.janos", "visitor one")
    policy.problems(PASSPHRASE, "kovacs.janos", "visitor two")  # another visitor typing the same
    policy.problems(PASSPHRASE, "nagy.anna", "visitor one")  # the same visitor, another username
    policy.problems(PASSPHRASE, None, "visitor one")
    assert len(asked) == 4


def test_without_a_visitor_or_a_memory_every_check_asks_zxcvbn(asked):
    remembering, forgetting = PasswordPolicy(verdicts=RememberedVerdicts()), PasswordPolicy()
    for _ in range(2):
        remembering.problems(PASSPHRASE, "kovacs.janos")  # the command line names no visitor
        forgetting.problems(PASSPHRASE, "kovacs.janos", "visitor one")
    assert len(asked) == 4


def test_a_verdict_is_forgotten_when_it_expires(asked):
    clock = Clock()
    verdicts = RememberedVerdicts(seconds=900, clock=clock)
    policy = PasswordPolicy(verdicts=verdicts)
    policy.problems(PASSPHRASE, None, "visitor one")
    clock.now += 899
    policy.problems(PASSPHRASE, None, "visitor one")
    assert len(asked) == 1
    clock.now += 1
    policy.problems("a rigó fütyül a patak partján", None, "visitor two")
    assert len(verdicts) == 1  # the first visitor's, expired, is gone
    policy.problems(PASSPHRASE, None, "visitor one")
    assert len(asked) == 3


def test_at_most_size_verdicts_are_kept_the_oldest_going_first(asked):
    verdicts = RememberedVerdicts(size=2)
    policy = PasswordPolicy(verdicts=verdicts)
    for visitor in ("one", "two", "three"):
        policy.problems(PASSPHRASE, None, visitor)
    assert len(verdicts) == 2
    policy.problems(PASSPHRASE, None, "three")
    policy.problems(PASSPHRASE, None, "two")
    assert len(asked) == 3
    policy.problems(PASSPHRASE, None, "one")
    assert len(asked) == 4


def test_what_is_kept_holds_no_password_or_username():
    verdicts = RememberedVerdicts()
    PasswordPolicy(verdicts=verdicts).problems(PASSPHRASE, "kovacs.janos", "visitor one")
    [(digest, (verdict, _until))] = verdicts._verdicts.items()
    assert verdict is False and isinstance(digest, bytes) and len(digest) == 64
    for typed in ("kék ég alatt fut", "kovacs.janos", "visitor one"):
        assert typed.encode() not in digest
    # The key is made at start: another process keeps the same question under another digest.
    other = RememberedVerdicts()
    PasswordPolicy(verdicts=other).problems(PASSPHRASE, "kovacs.janos", "visitor one")
    assert set(other._verdicts) != set(verdicts._verdicts)


def test_the_parts_of_a_question_cannot_run_into_each_other(asked):
    policy = PasswordPolicy(verdicts=RememberedVerdicts())
    policy.problems(PASSPHRASE, "ab", "visitor")
    policy.problems(PASSPHRASE, "b", "visitora")  # joined without lengths, both would read "visitorab..."
    assert len(asked) == 2


PART = st.text(alphabet="12:ab", max_size=12)


@settings(max_examples=500, deadline=None)
@given(one=st.tuples(PART, PART, PART), other=st.tuples(PART, PART, PART))
def test_property_two_questions_are_never_hashed_alike(one, other):
    assume(one != other)
    assert passwords._framed(*one) != passwords._framed(*other)


WORDS = st.sampled_from(["kapu", "password", "kék", "ég", "alatt", "1234", "qwerty", "nyírfa", "rigó", "Kovacs", "!"])
TYPED = st.lists(WORDS, min_size=1, max_size=8).map(" ".join) | st.text(max_size=24)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(TYPED, st.sampled_from([None, "kovacs", "nagy.anna"]), st.sampled_from("ab"))))
def test_property_a_remembered_verdict_is_zxcvbns_own(steps):
    remembering, asking = PasswordPolicy(verdicts=RememberedVerdicts(size=4)), PasswordPolicy()
    for password, username, visitor in steps:
        assert remembering.problems(password, username, visitor) == asking.problems(password, username)


def test_threads_checking_at_once_each_get_zxcvbns_verdict():
    policy, asking = PasswordPolicy(verdicts=RememberedVerdicts(size=8)), PasswordPolicy()
    typed = ["password12345678", PASSPHRASE, "qwertyuiop123456", "a rigó fütyül a patak partján"]
    expected = {password: asking.problems(password, None) for password in typed}
    wrong = []

    def check(n):
        for i in range(200):
            password = typed[(n + i) % len(typed)]
            if policy.problems(password, None, f"visitor {i % 3}") != expected[password]:
                wrong.append(password)

    threads = [threading.Thread(target=check, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def _type_then_submit(client, mailbox, username):
    """A visitor's checks at pauses after the 16th character, then the submit without JavaScript."""
    token = csrf_token(client)
    for typed in (18, 23, len(PASSPHRASE)):
        data = {"username": username, "password": PASSPHRASE[:typed]}
        response = client.post("/activate/check/password", data=data, headers={"X-CSRFToken": token})
        assert response.status_code == 200 and response.get_data(as_text=True).strip() == ""
    return client.post(
        "/activate",
        data={
            "csrf_token": token,
            "username": username,
            "code": mailbox.last_code(),
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
        },
    )


@pytest.mark.parametrize("path", ["shortcut", "flask"])
def test_a_visitor_typing_then_submitting_asks_zxcvbn_once(app, client, monkeypatch, registered, mailbox, asked, path):
    """The live checks (answered before Flask, or by it) and the submit name the visitor alike."""
    answered = spy_on_shortcut(monkeypatch, live_checks.LiveChecks)
    if path == "flask":
        leave_to_flask(monkeypatch, live_checks.LiveChecks)
    assert _type_then_submit(client, mailbox, registered.account.username).status_code == 200
    assert asked == [("kék ég alatt fut", registered.account.username)]
    assert answered == ([True] * 3 if path == "shortcut" else [])


def test_another_visitor_typing_the_same_is_asked_for_anew(app, registered, asked):
    for _ in range(2):
        client = app.test_client()  # another visitor: another session, another CSRF secret
        token = csrf_token(client)
        data = {"username": registered.account.username, "password": PASSPHRASE}
        client.post("/activate/check/password", data=data, headers={"X-CSRFToken": token})
    assert len(asked) == 2
