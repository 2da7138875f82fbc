"""`serve`'s workers answer with response_headers.RememberingResponse: gunicorn's checks of a header, made once per
distinct pair, must answer exactly as gunicorn's own Response does, the first time and every time after."""

from __future__ import annotations

import socket

import pytest
from gunicorn.config import Config
from gunicorn.http import RequestParser, wsgi
from hypothesis import given
from hypothesis import strategies as st

import response_headers
from response_headers import RememberingResponse

GUNICORN_RESPONSE = wsgi.Response
SECURITY_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", "default-src 'self'; script-src 'self'; object-src 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Vary", "Cookie, HX-Request"),
]


@pytest.fixture(autouse=True)
def nothing_remembered(monkeypatch):
    monkeypatch.setattr(RememberingResponse, "remembered", set())


def _outcome(response_class, headers):
    """What a response makes of *headers*: what it keeps and notes, or the error it raises."""
    response = response_class(None, None, None)
    try:
        response.process_headers(headers)
    except Exception as error:  # noqa: BLE001 - the error is the outcome compared
        return type(error), str(error)
    return response.headers, response.response_length, response.upgrade


NAMES = st.sampled_from(
    ["X-Frame-Options", "Content-Length", "Connection", "Upgrade", "Keep-Alive", "Set-Cookie", "Bad Name", "Ü", ""]
)
VALUES = st.text(alphabet=st.sampled_from("aZ09 \t\r\n\x00\x7f\xe9;=-,'"), max_size=12) | st.sampled_from(
    ["12", "upgrade", "Upgrade", "websocket", " x ", "close"]
)
PAIRS = st.tuples(NAMES, VALUES) | st.tuples(NAMES, VALUES).map(list) | st.tuples(st.just(b"X-Bytes"), VALUES)


@given(st.lists(st.lists(PAIRS, max_size=4), min_size=1, max_size=4))
def test_every_answer_gets_gunicorns_outcome_whatever_was_remembered_before(answers):
    RememberingResponse.remembered = set()
    for headers in answers + answers:  # each set of headers met twice: the second time from what was remembered
        assert _outcome(RememberingResponse, headers) == _outcome(GUNICORN_RESPONSE, headers)


def test_a_constant_header_is_remembered_and_a_cookie_or_a_length_is_not():
    headers = [*SECURITY_HEADERS, ("Set-Cookie", "session=secret; HttpOnly"), ("Content-Length", "0")]
    assert _outcome(RememberingResponse, headers) == _outcome(GUNICORN_RESPONSE, headers)
    assert RememberingResponse.remembered == set(SECURITY_HEADERS)
    assert _outcome(RememberingResponse, headers)[1] == 0  # the length is read at every answer


def test_a_header_gunicorn_changes_or_refuses_is_checked_every_time():
    _outcome(RememberingResponse, [("Vary", "Cookie "), ("Connection", "close"), ("X-Bad", "a\r\nb")])
    assert RememberingResponse.remembered == set()
    assert _outcome(RememberingResponse, [("X-Bad", "a\r\nb")])[0] is wsgi.InvalidResponseHeader


def test_no_more_than_the_most_are_remembered(monkeypatch):
    monkeypatch.setattr(response_headers, "MOST_REMEMBERED", 3)
    _outcome(RememberingResponse, [("Location", f"/activate/{n}") for n in range(10)])
    assert len(RememberingResponse.remembered) == 3


def test_a_worker_builds_its_answers_with_the_remembering_response(monkeypatch):
    monkeypatch.setattr(wsgi, "Response", GUNICORN_RESPONSE)  # put back after the test
    response_headers.answer_with_remembered_headers()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"GET /activate HTTP/1.1\r\nHost: kapu.example\r\n\r\n")
        request = next(RequestParser(Config(), ours, ("127.0.0.1", 4000)))
        response, environ = wsgi.create(request, ours, ("127.0.0.1", 4000), ("127.0.0.1", 8000), Config())
    assert type(response) is RememberingResponse
    assert environ["PATH_INFO"] == "/activate"
