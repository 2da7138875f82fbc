"""The activation page's live checks answered before Flask (live_checks.py): Flask's very answers, and every case
the shortcut does not take left to Flask, which answers (and audits) it as before."""

from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta

import itsdangerous.timed
import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie

import live_checks
import metrics
import shortcuts
from forms.activation import ActivationForm
from forms.base import RefilledChecks
from models import AuditEvent
from tests.support.helpers import (
    PARALLEL,
    STRONG_PASSWORD,
    csrf_token,
    in_parallel,
    leave_to_flask,
    spy_on_shortcut,
    tampered_signature,
)

CHECK = "/activate/check/"


@pytest.fixture
def shortcut(monkeypatch):
    return spy_on_shortcut(monkeypatch, live_checks.LiveChecks)


def flask_answers(monkeypatch):
    leave_to_flask(monkeypatch, live_checks.LiveChecks)


def answer(response):
    return response.status_code, response.get_data(as_text=True), sorted(response.headers.items())


CASES = [
    ("password_confirm", {"password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD}),
    ("password_confirm", {"password": STRONG_PASSWORD, "password_confirm": "something else"}),
    ("password", {"username": "kovacs.janos", "password": "rövid"}),
    ("password", {"username": "kovacs.janos", "password": "kovacs.janos.2000 kovacs"}),
    ("password", {"username": "kovacs.janos", "password": "password1234password"}),
    ("password", {"password": STRONG_PASSWORD}),
    ("code", {"code": "ABC<b>"}),
    ("code", {"code": "7km4-xh9p-3rtc"}),
    ("code", {"code": ""}),
    ("username", {"username": "a b"}),
    ("username", {"username": "kovács.jános"}),
]


@pytest.mark.parametrize("language", ["hu", "en", None])
@pytest.mark.parametrize("field, data", CASES)
def test_the_shortcut_gives_flasks_own_answer(app, monkeypatch, shortcut, field, data, language):
    client = app.test_client()
    token = csrf_token(client)
    if language:
        with client.session_transaction() as session:
            session["language"] = language
    # As htmx sends it from the page: every field of the form, the form's token and the same token in a header.
    sent = {"csrf_token": token, "username": "", "code": "", "password": "", "password_confirm": "", **data}
    headers = {"X-CSRFToken": token, "HX-Request": "true", "Origin": "http://localhost"}
    fast = answer(client.post(CHECK + field, data=sent, headers=headers))
    assert shortcut == [True]
    flask_answers(monkeypatch)
    assert fast == answer(client.post(CHECK + field, data=sent, headers=headers))
    assert fast[0] == 200


def test_over_https_the_answer_carries_hsts_and_needs_a_same_origin_referer(make_app, monkeypatch, shortcut):
    app = make_app(KAPU_BASE_URL="https://kapu.test")
    client = app.test_client()
    token = csrf_token(client)
    sent = {"password": "rövid"}
    over_https = {"base_url": "https://localhost", "data": sent}
    with_referer = {"X-CSRFToken": token, "Referer": "https://localhost/activate"}
    fast = answer(client.post(CHECK + "password", headers=with_referer, **over_https))
    refused = client.post(CHECK + "password", headers={"X-CSRFToken": token}, **over_https)
    assert shortcut == [True, False]
    assert ("Strict-Transport-Security", "max-age=31536000; includeSubDomains") in fast[2]
    assert refused.status_code == 400  # Flask-WTF's strict check: no Referer, no POST over https
    flask_answers(monkeypatch)
    assert fast == answer(client.post(CHECK + "password", headers=with_referer, **over_https))


def test_the_rest_is_left_to_flask_which_answers_as_before(app, client, shortcut):
    token = csrf_token(client)
    post = lambda path, **kw: client.post(CHECK + path, **kw)  # noqa: E731
    sent = {"password": "rövid"}
    answers = {
        "no token": post("password", data=sent).status_code,
        "a wrong token": post("password", data=sent, headers={"X-CSRFToken": tampered_signature(token)}).status_code,
        "another site": post("password", data=sent, headers={"X-CSRFToken": token, "Origin": "https://evil.test"}),
        "a query string": post("password?lang=hu", data=sent, headers={"X-CSRFToken": token}),
        "a multipart body": post(
            "password", data=sent, headers={"X-CSRFToken": token}, content_type="multipart/form-data"
        ).status_code,
        "a field without a check": post("full_name", data=sent, headers={"X-CSRFToken": token}).status_code,
        "too large a body": post("password", data={"password": "x" * 70_000}, headers={"X-CSRFToken": token}),
    }
    assert shortcut == [False] * len(answers)
    assert answers["no token"] == answers["a wrong token"] == answers["another site"].status_code == 400
    assert "legalább 15 karakter" in answers["a query string"].get_data(as_text=True)  # ?lang=hu switched it
    assert answers["a multipart body"] == 200 and answers["a field without a check"] == 404
    assert answers["too large a body"].status_code == 413
    with app.app_context():
        refusals = AuditEvent.select().where(AuditEvent.kind == "csrf", AuditEvent.outcome == "refused").count()
    assert refusals == 3


def test_a_logged_in_visitors_check_is_flasks(auth, active, shortcut):
    auth.login()
    token = csrf_token(auth.client)
    response = auth.client.post(CHECK + "password", data={"password": "rövid"}, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and "at least 15" in response.get_data(as_text=True)
    assert shortcut == [False]


def test_a_remembered_session_cookie_still_expires(make_app, monkeypatch, shortcut):
    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(minutes=10))
    client = app.test_client()
    token = csrf_token(client)
    check = lambda: client.post(CHECK + "code", data={"code": "x"}, headers={"X-CSRFToken": token})  # noqa: E731
    assert check().status_code == 200
    later = time.time() + 11 * 60
    monkeypatch.setattr(shortcuts.time, "time", lambda: later)
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert check().status_code == 400  # to Flask, the cookie has expired: no session, no token in it
    assert shortcut == [True, False]


def test_a_token_signed_before_a_key_rotation_still_counts(make_app, shortcut):
    old = make_app(KAPU_SECRET_KEY="the-key-before-the-rotation-long-enough")
    client = old.test_client()
    token = csrf_token(client)
    new = make_app(
        KAPU_SECRET_KEY="the-key-after-the-rotation-also-long-enough",
        KAPU_SECRET_KEY_FALLBACKS="the-key-before-the-rotation-long-enough",
    )
    client.application = new
    response = client.post(CHECK + "code", data={"code": "x"}, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and shortcut == [True]


COOKIE_TEXT = st.text(st.sampled_from('session=;" \\,abc012.-_%'), max_size=40)


@given(headers=st.lists(COOKIE_TEXT, min_size=1, max_size=6))
def test_property_a_remembered_cookie_header_reads_as_werkzeug_reads_it(app, headers):
    """Asked in any order, again and again: the session cookie werkzeug finds in the header, or none."""
    remembering = live_checks.LiveChecks(None, app, {})
    for header in [*headers, *reversed(headers)]:
        found = remembering.session_cookie({"HTTP_COOKIE": header})
        assert found == parse_cookie(header).get(app.config["SESSION_COOKIE_NAME"])


def test_remembered_cookie_headers_are_bounded(app, monkeypatch):
    monkeypatch.setattr(shortcuts.Shortcut, "COOKIE_HEADERS", 3)
    remembering = live_checks.LiveChecks(None, app, {})
    for n in range(10):
        assert remembering.session_cookie({"HTTP_COOKIE": f"session=v{n}"}) == f"v{n}"
        assert len(remembering._cookies) <= 3
    long = "session=" + "x" * shortcuts.Shortcut.COOKIE_HEADER_CHARACTERS
    assert remembering.session_cookie({"HTTP_COOKIE": long}) == long[8:]
    assert long not in remembering._cookies and remembering.session_cookie({}) is None


def test_the_shortcut_logs_its_access_line_and_counts_its_answers(app, client, caplog, shortcut):
    token = csrf_token(client)
    counted = metrics.collectors().requests.labels("/activate/check/<field>", "POST", "200")
    before = counted._value.get()
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        response = client.post(
            CHECK + "code",
            data={"code": "x"},
            headers={"X-CSRFToken": token},
            environ_base={"REMOTE_ADDR": "192.0.2.7"},
        )
    assert response.status_code == 200 and shortcut == [True]
    [line] = [r for r in caplog.records if r.name == "kapu.access"]
    assert line.getMessage().startswith("POST /activate/check/<field> 200 ")
    assert (line.route, line.status, line.client, len(line.request_id)) == (
        "/activate/check/<field>",
        200,
        "192.0.2.7",
        16,
    )
    assert counted._value.get() == before + 1


def test_the_limit_is_counted_by_the_shortcut_and_told_by_flask(make_app, shortcut):
    app = make_app(KAPU_CLIENT_CHECKS_PER_MINUTE=3)
    client = app.test_client()
    token = csrf_token(client)
    statuses = [
        client.post(CHECK + "code", data={"code": "x"}, headers={"X-CSRFToken": token}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429] and shortcut == [True, True, True, False]
    with app.app_context():
        assert AuditEvent.select().where(AuditEvent.outcome == "rate_limited").count() == 1


@pytest.fixture
def both_ways(make_app, monkeypatch):
    """post(field, **request) -> (the shortcut's answer, Flask's), for one visitor (post.client) with a valid token;
    post.taken counts the requests the shortcut answered."""
    app = make_app(KAPU_CLIENT_CHECKS_PER_MINUTE=100000)
    client = app.test_client()
    token = csrf_token(client)
    real, shortcut_on = live_checks.LiveChecks.answer, [True]

    def answer_if_on(self, environ):
        answered = real(self, environ) if shortcut_on[0] else None
        post.taken += answered is not None
        return answered

    monkeypatch.setattr(live_checks.LiveChecks, "answer", answer_if_on)

    def post(field, **request):
        answers = []
        for on in (True, False):
            shortcut_on[0] = on
            answers.append(answer(client.post(CHECK + field, headers={"X-CSRFToken": token}, **request)))
        return answers

    post.client, post.taken = client, 0
    return post


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
FIELDS = st.sampled_from(["username", "code", "password", "password_confirm"])


@given(field=FIELDS, data=st.dictionaries(st.sampled_from(["username", "code", "password", "password_confirm"]), TEXT))
def test_property_any_typed_text_gets_flasks_answer(both_ways, field, data):
    fast, slow = both_ways(field, data=data)
    assert fast == slow and fast[0] == 200


@given(field=FIELDS, body=st.text(st.sampled_from("=&;%+ 0123456789ABCDEFabcdef_xcodepasswrdnm\x7f"), max_size=80))
def test_property_any_urlencoded_body_gets_flasks_answer(both_ways, field, body):
    fast, slow = both_ways(field, data=body.encode(), content_type="application/x-www-form-urlencoded")
    assert fast == slow and fast[0] == 200


STEP = st.tuples(
    FIELDS,
    st.dictionaries(st.sampled_from(["username", "code", "password", "password_confirm"]), TEXT),
    st.sampled_from(["hu", "en", None]),
)


@given(steps=st.lists(STEP, min_size=2, max_size=6))
def test_property_check_after_check_each_gets_flasks_answer(both_ways, steps):
    """The shortcut refills one form per field (forms.base.RefilledChecks): nothing a check leaves in it (an error,
    a value, a language) may reach the next one, which Flask answers with a new form. The forms live as long as the
    app, so each example also follows the ones before it."""
    for field, data, language in steps:
        with both_ways.client.session_transaction() as session:
            session.pop("language", None)
            session.update({"language": language} if language else {})
        taken = both_ways.taken
        fast, slow = both_ways(field, data=data)
        assert fast == slow and fast[0] == 200
        assert both_ways.taken == taken + bool(data)  # an empty body is Flask's


@pytest.fixture
def frequent_switches():
    """Threads take turns within a check, as they may in a served worker (Python's default: every 5 ms)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_threads_checking_at_once_each_get_their_own_answer(make_app, frequent_switches):
    app = make_app(KAPU_CLIENT_CHECKS_PER_MINUTE=100000)
    sent = [
        {"password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD if i % 2 else "something else"}
        for i in range(PARALLEL)
    ]
    expected = [
        "do not match" in answer_to(app.test_client(), "password_confirm", data).get_data(as_text=True) for data in sent
    ]
    assert expected == [i % 2 == 0 for i in range(PARALLEL)]

    def check(i, client, barrier):
        token = csrf_token(client)
        barrier.wait()
        return [
            "do not match" in answer_to(client, "password_confirm", sent[i], token).get_data(as_text=True)
            for _ in range(20)
        ]

    assert in_parallel(app, check) == [[wanted] * 20 for wanted in expected]


def answer_to(client, field, data, token=None):
    token = token or csrf_token(client)
    response = client.post(CHECK + field, data=data, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    return response


@given(
    steps=st.lists(st.tuples(FIELDS, st.dictionaries(st.sampled_from(ActivationForm.live_fields), TEXT)), max_size=8)
)
def test_property_a_refilled_form_is_in_a_new_forms_state(app, steps):
    refilled = RefilledChecks(ActivationForm)
    with app.test_request_context():
        for field, data in steps:
            kept = refilled.filled(field, MultiDict(data))
            new = ActivationForm.for_check(field)(formdata=MultiDict(data), meta={"csrf": False})
            kept.checked(field), new.checked(field)
            assert form_state(kept) == form_state(new)


def form_state(form):
    """What a check can change in a form: its fields' data and errors, and any attribute set on it or them."""
    fields = {field.name: (sorted(vars(field)), [getattr(field, key, None) for key in FIELD_STATE]) for field in form}
    return sorted(vars(form)), fields


FIELD_STATE = ("data", "raw_data", "object_data", "errors", "process_errors")
