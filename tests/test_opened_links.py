"""The e-mail link answered before Flask (opened_links.py): Flask's very answer and audit line, and every case the
shortcut does not take left to Flask before anything is written."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

import metrics
import opened_links
from models import AuditEvent
from tests.support.helpers import OFFICE, csrf_token, leave_to_flask, register_citizen, spy_on_shortcut


@pytest.fixture
def shortcut(monkeypatch):
    return spy_on_shortcut(monkeypatch, opened_links.OpenedLinks)


def flask_answers(monkeypatch):
    leave_to_flask(monkeypatch, opened_links.OpenedLinks)


def answer(app, response):
    """Status, body and headers; the session cookie as its attributes and the session it holds (its signature
    carries the second it was made)."""
    headers = []
    for name, value in response.headers.items():
        if name == "Set-Cookie":
            cookie, *attributes = value.split("; ")
            cookie_name, signed = cookie.split("=", 1)
            session = app.session_interface.get_signing_serializer(app).loads(signed)
            value = (cookie_name, session, sorted(attributes))
        headers.append((name, value))
    return response.status_code, response.get_data(as_text=True), sorted(headers, key=repr)


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
        "tampered": client.get(link[:-4] + "AAAA").status_code,
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
