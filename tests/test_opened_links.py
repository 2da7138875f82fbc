"""The e-mail link answered before Flask (opened_links.py): Flask's very answer and audit line, and every case the
shortcut does not take left to Flask before anything is written."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import metrics
import opened_links
from models import AuditEvent
from tests.support.helpers import (
    OFFICE,
    csrf_token,
    leave_to_flask,
    register_citizen,
    spy_on_shortcut,
    tampered_signature,
)


@pytest.fixture
def shortcut(monkeypatch):
    return spy_on_shortcut(monkeypatch, opened_links.OpenedLinks)


def flask_answers(monkeypatch):
    leave_to_flask(monkeypatch, opened_links.OpenedLinks)


def answer(app, response, sent_token=None):
    """Status, body and headers; the session cookie as its attributes and the session it holds (its signature
    carries the second it was made). A page drawn for a new CSRF token (Flask's 4xx pages) shows it as NEW."""
    body = drawn = response.get_data(as_text=True)
    for found in set(re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', body)):
        for token in filter(None, found):
            body = body.replace(token, "NEW")
    headers = []
    for name, value in response.headers.items():
        if name == "Set-Cookie":
            cookie, *attributes = value.split("; ")
            cookie_name, signed = cookie.split("=", 1)
            session = app.session_interface.get_signing_serializer(app).loads(signed) if signed else None
            if session and session.get("csrf_token") not in (None, sent_token):
                session["csrf_token"] = "NEW"
            value = (cookie_name, session, sorted(attributes))
        elif name == "Content-Length" and body != drawn:
            value = "-"  # a new token's length differs from page to page
        headers.append((name, value))
    return response.status_code, body, sorted(headers, key=repr)


def openings(app):
    with app.app_context():
        return [
            (e.outcome, e.client_address, e.account_id)
            for e in AuditEvent.select().where(AuditEvent.kind == "link_opened").order_by(AuditEvent.id)
        ]


@pytest.mark.parametrize("visitor", ["new", "with a session", "over https"])
def test_the_shortcut_gives_flasks_own_answer_and_audit_line(make_app, monkeypatch, shortcut, visitor):
    app = make_app(KAPU_BASE_URL="https://kapu.test") if visitor == "over https" else make_app()
    link = register_citizen(app, channel="office", office=OFFICE).link.split("kapu.test", 1)[1]
    client = app.test_client()
    if visitor == "with a session":
        csrf_token(client)
        with client.session_transaction() as session:
            session["language"] = "hu"
    name = app.config["SESSION_COOKIE_NAME"]  # __Host-session over https
    cookie = client.get_cookie(name)
    base = {"base_url": "https://localhost"} if visitor == "over https" else {}

    fast = answer(app, client.get(link, **base))
    assert shortcut == [True] and fast[0] == 303
    page = client.get("/activate", **base).get_data(as_text=True)
    assert 'name="code"' in page and "value=" in page.split('name="code"', 1)[1].split(">", 1)[0]

    flask_answers(monkeypatch)
    if cookie is None:
        client.delete_cookie(name)
    else:
        client.set_cookie(name, cookie.value)
    assert answer(app, client.get(link, **base)) == fast
    [first, second] = openings(app)
    assert first == second and first[0] == "valid" and first[2] is not None
    if visitor == "over https":
        assert ("Strict-Transport-Security", "max-age=31536000; includeSubDomains") in fast[2]


def test_the_rest_is_left_to_flask_before_anything_is_written(app, client, auth, registered, mailbox, shortcut):
    link = mailbox.last_link()
    stranger = app.test_client()
    stranger.set_cookie("session", "not-a-signed-session")
    answers = {
        "tampered": client.get(tampered_signature(link)).status_code,
        "a query string": client.get(link + "?lang=hu").status_code,
        "a bad session cookie": stranger.get(link).status_code,
        "HEAD": client.head(link).status_code,
        "a trailing slash": client.get(link + "/").status_code,
    }
    assert shortcut == [False] * 4  # HEAD never reaches it
    assert answers == {
        "tampered": 400,
        "a query string": 303,
        "a bad session cookie": 303,
        "HEAD": 303,
        "a trailing slash": 404,
    }
    # One audit line per opening, each written by Flask (none by the shortcut before it gave up).
    assert [outcome for outcome, _client, _account in openings(app)] == ["invalid", "valid", "valid", "valid"]


def test_a_logged_in_visitors_link_is_flasks(app, auth, active, shortcut):
    auth.login()
    other = register_citizen(app, username="nagy.anna", email="anna@example.hu", channel="office", office=OFFICE)
    assert auth.client.get(other.link.split("kapu.test", 1)[1]).status_code == 303
    assert shortcut == [False]
    assert [outcome for outcome, *_ in openings(app)] == ["valid"]


def test_a_used_link_is_flasks(app, client, active, mailbox, shortcut):
    assert client.get(mailbox.last_link()).status_code == 409
    assert shortcut == [False]
    assert [outcome for outcome, *_ in openings(app)] == ["used"]


def test_an_expired_link_is_flasks(client, registered, mailbox, frozen_clock, shortcut):
    frozen_clock.advance(days=4)
    response = client.get(mailbox.last_link())
    assert response.status_code == 410 and shortcut == [False]


def test_the_shortcut_logs_its_access_line_and_counts_its_answers(client, registered, mailbox, caplog, shortcut):
    counted = metrics.collectors().requests.labels("/activate/<token>", "GET", "303")
    before = counted._value.get()
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        response = client.get(mailbox.last_link(), environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert response.status_code == 303 and shortcut == [True]
    [line] = [r for r in caplog.records if r.name == "kapu.access"]
    assert line.getMessage().startswith("GET /activate/<token> 303 ")
    assert (line.route, line.status, line.client) == ("/activate/<token>", 303, "192.0.2.9")
    assert counted._value.get() == before + 1
    assert "192.0.2.9" in [address for _outcome, address, _account in openings(client.application)]


def test_a_fault_of_the_shortcut_leaves_the_link_to_flask(app, client, registered, mailbox, monkeypatch, caplog):
    def broken(services, token):
        raise RuntimeError("the shortcut's own fault")

    # The shortcut's own view of the domain fails; Flask's view (issuing.open_link) is untouched.
    monkeypatch.setattr(opened_links, "issuing", SimpleNamespace(inspect_link=broken))
    with caplog.at_level(logging.ERROR, logger="kapu"):
        response = client.get(mailbox.last_link())
    assert response.status_code == 303
    assert "/activate/<token> left to Flask after an error" in caplog.text
    assert [outcome for outcome, *_ in openings(app)] == ["valid"]  # written once, by Flask


@pytest.fixture
def both_ways(make_app, monkeypatch):
    """open(which link, session cookie) -> (the shortcut's answer and audit lines, Flask's), each from the same
    state: a fresh browser holding *cookie* (None: no cookie)."""
    app = make_app()
    live = register_citizen(app, channel="office", office=OFFICE).link.split("kapu.test", 1)[1]
    paths = {
        "live": live,
        "tampered": tampered_signature(live),
        "with ?lang=en": live + "?lang=en",
        "slash": live + "/",
    }
    name = app.config["SESSION_COOKIE_NAME"]
    real, shortcut_on = opened_links.OpenedLinks.answer, [True]
    monkeypatch.setattr(
        opened_links.OpenedLinks, "answer", lambda self, environ: real(self, environ) if shortcut_on[0] else None
    )

    def open_link(which, cookie, sent_token=None):
        answers = []
        for on in (True, False):
            shortcut_on[0] = on
            before = len(openings(app))
            client = app.test_client()
            if cookie is not None:
                client.set_cookie(name, cookie)
            answers.append((answer(app, client.get(paths[which]), sent_token), openings(app)[before:]))
        return answers

    open_link.sign = app.session_interface.get_signing_serializer(app).dumps
    return open_link


SESSIONS = st.fixed_dictionaries(
    {},
    optional={
        "language": st.sampled_from(["hu", "en", "xx"]),
        "csrf_token": st.text("0123456789abcdef", min_size=40, max_size=40),
        "activation_link": st.text(max_size=20),
        "sid": st.text(max_size=20),  # a login Flask must look up
    },
)


@given(
    which=st.sampled_from(["live", "tampered", "with ?lang=en", "slash"]),
    session=st.one_of(st.none(), st.just("not a signed session"), SESSIONS),
)
def test_property_any_visitor_and_link_get_flasks_answer_and_audit_line(both_ways, which, session):
    cookie = both_ways.sign(session) if isinstance(session, dict) else session
    fast, slow = both_ways(which, cookie, session.get("csrf_token") if isinstance(session, dict) else None)
    assert fast == slow
    assert len(fast[1]) == (0 if which == "slash" else 1)  # one opening each way, except the 404
