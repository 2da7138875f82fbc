"""Sessions: rotated on login, idle (30 min) and absolute (12 h) timeouts, logout."""

import time

import pytest

from tests.conftest import STRONG_PASSWORD, csrf_token


@pytest.fixture
def logged_in(client, csrf, registered, mailbox):
    client.post("/activate", data={"csrf_token": csrf(), "username": "kovacs.janos", "code": mailbox.last_code(),
                                   "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD})
    before = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": before, "username": "kovacs.janos", "password": STRONG_PASSWORD})
    return before


def test_login_rotates_the_session_and_its_csrf_token(client, logged_in):
    assert csrf_token(client, "/activate") != logged_in
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("idle_minutes, still_in", [(29, True), (31, False)])
def test_idle_timeout(client, logged_in, monkeypatch, idle_minutes, still_in):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + idle_minutes * 60)
    assert (client.get("/account").status_code == 200) is still_in


def test_absolute_timeout_even_when_active(client, logged_in, monkeypatch):
    real, offset = time.time, [0]
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])
    for _ in range(25):  # active every 29 minutes for over 12 hours
        offset[0] += 29 * 60
        status = client.get("/account").status_code
    assert status == 303


def test_logout_needs_csrf_and_ends_the_session(client, logged_in):
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/activate")})
    assert client.get("/account").status_code == 303
