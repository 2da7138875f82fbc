"""`flask --app app serve` as in production: gunicorn workers, one mail deliverer, graceful SIGTERM, no seeding."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.served import (
    CODE,
    Browser,
    ServedKapu,
    activate,
    clean_environment,
    login,
    mailed_link_path,
    register,
    wait_for,
)
from tests.smtp_server import RecordingHandler, SmtpServer

pytestmark = pytest.mark.slow  # starts `serve` (gunicorn workers) as a process

PASSWORD = "kerekes kút mellett áll a nyírfa"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def _environment(tmp_path, **extra):
    return clean_environment(
        KAPU_DATABASE_URL=f"sqlite:///{tmp_path / 'kapu.db'}",
        KAPU_SECRET_KEY="serve-test-secret-key-long-enough",
        KAPU_LANGUAGE="en",
        **extra,
    )


@pytest.fixture
def served(tmp_path):
    started = []

    def start(args=(), **env):
        server = ServedKapu(tmp_path, _environment(tmp_path, **env), args=args)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.kill()


def _rows(tmp_path, table):
    with sqlite3.connect(tmp_path / "kapu.db") as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)


def _slow_post(server, browser, path, body: bytes):
    """Send a POST's headers and half its body now; return a function that sends the rest and reads the answer."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nCookie: {browser.cookie_header()}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    connection.sendall(head + body[: len(body) // 2])

    def finish():
        connection.sendall(body[len(body) // 2 :])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        connection.close()
        return answer.decode(errors="replace")

    return finish


def test_serve_runs_the_workers_delivers_each_mail_once_and_stops_gracefully(served, smtp, tmp_path):
    server = served(KAPU_WORKERS="2", KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=str(smtp.port))
    assert wait_for(lambda: len(server.worker_pids()) == 2, timeout=10), server.worker_pids()

    people = [(f"lakos.{i}", f"lakos{i}@example.hu") for i in range(4)]
    for username, email in people:
        register(server.url, username, email)
    assert wait_for(lambda: len(smtp.received) >= len(people), timeout=20), smtp.received
    time.sleep(3)  # every worker's delivery thread has had its turns: nothing may arrive twice
    assert sorted(m["to"][0] for m in smtp.received) == sorted(email for _, email in people)

    # The mailed code activates the account over HTTP; the new password logs in (any worker answers).
    text = smtp.received[0]["message"].get_body(("plain",)).get_content()
    username = next(u for u, e in people if e == smtp.received[0]["to"][0])
    assert activate(server.url, username, CODE.search(text).group(1), PASSWORD) == 200
    assert login(server.url, username, PASSWORD) == 303

    # A request in flight when SIGTERM arrives is answered; then the server exits 0 with one line.
    browser = Browser(server.url)
    browser.get("/forgotten-password")
    body = f"csrf_token={browser.token}&username=lakos.1&email=lakos1%40example.hu".encode()
    finish = _slow_post(server, browser, "/forgotten-password", body)
    time.sleep(0.5)
    server.process.send_signal(15)
    time.sleep(1.0)
    assert server.process.poll() is None  # still waiting for the request
    answer = finish()
    assert answer.startswith("HTTP/1.1 200"), answer[:300]
    assert server.terminate() == 0
    stop_lines = [line for line in server.stderr.splitlines() if "SIGTERM" in line]
    assert len(stop_lines) == 1, server.stderr
    assert "Traceback" not in server.stderr


class SlowHandler(RecordingHandler):
    """Takes two seconds to accept a message, so a stop can arrive in the middle of a delivery."""

    def __init__(self):
        super().__init__()
        self.started = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.started.set()
        await asyncio.sleep(2)
        return await super().handle_DATA(server, session, envelope)


def test_sigterm_during_a_delivery_finishes_that_message_and_records_it_sent(served, tmp_path):
    smtp = SmtpServer()
    smtp.handler = SlowHandler()
    smtp.controller.handler = smtp.handler
    smtp.start()
    try:
        server = served(KAPU_WORKERS="2", KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=str(smtp.port))
        register(server.url, "lassu.level", "lassu@example.hu")
        assert smtp.handler.started.wait(15)
        assert server.terminate() == 0
        assert [m["to"] for m in smtp.received] == [["lassu@example.hu"]]
        with sqlite3.connect(tmp_path / "kapu.db") as connection:
            assert connection.execute("SELECT status FROM outbox_message").fetchall() == [("sent",)]
    finally:
        smtp.stop()


def test_serve_seeds_nothing_and_serve_demo_seeds_an_empty_database_once(served, tmp_path):
    plain = served(KAPU_WORKERS="1")
    assert plain.terminate() == 0
    assert "KAPU_DEV_MAILBOX" not in plain.stderr
    assert (_rows(tmp_path, "account"), _rows(tmp_path, "office"), _rows(tmp_path, "outbox_message")) == (0, 0, 0)
    assert "Demo" not in plain.stdout

    demo = served(args=("--demo",), KAPU_WORKERS="1", KAPU_DEV_MAILBOX="1")
    assert demo.terminate() == 0
    assert "Demo activation link (username: demo): http://127.0.0.1:" in demo.stdout
    assert "KAPU_DEV_MAILBOX is on" in demo.stderr
    assert _rows(tmp_path, "account") == 1 and _rows(tmp_path, "office") > 0

    again = served(args=("--demo",), KAPU_WORKERS="1")
    assert again.terminate() == 0
    assert "Demo activation link" not in again.stdout
    assert "KAPU_DEV_MAILBOX is on" in again.stderr  # --demo turns the dev mailbox on unless told otherwise
    assert _rows(tmp_path, "account") == 1


def test_without_fork_serve_falls_back_to_waitress_and_still_stops_gracefully(tmp_path):
    """Where os.fork is missing (Windows), one waitress process serves, delivers nothing twice and exits 0."""
    command = [
        sys.executable,
        "-c",
        "import os, sys; del os.fork; from flask.cli import main; sys.argv[0] = 'flask'; main()",
        "--app",
        "app",
    ]
    server = ServedKapu(tmp_path, _environment(tmp_path, KAPU_WORKERS="2"), command=command)
    try:
        server.wait_ready()
        assert server.worker_pids() == []  # no forked workers
        register(server.url, "ablak.aladar", "aladar@example.hu")
        assert server.terminate() == 0
        assert len([line for line in server.stderr.splitlines() if "SIGTERM" in line]) == 1, server.stderr
        assert _rows(tmp_path, "outbox_message") == 1
    finally:
        server.kill()


def test_a_connection_that_sends_nothing_holds_up_no_other_request(served):
    """A preconnect or a slow client waits for its request without the worker's turn (turn_worker.handle)."""
    server = served(KAPU_WORKERS="1")
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        time.sleep(0.2)  # accepted, and waiting for a request line that does not come
        started = time.monotonic()
        browser = Browser(server.url)
        assert "activate" in browser.get("/activate")
        assert time.monotonic() - started < 2.5, "the page waited for the silent connection (5 s)"
    finally:
        silent.close()


def test_live_checks_under_serve_are_answered_by_every_worker_and_limited_per_worker(served):
    """The checks are answered before Flask (live_checks.py) in each worker, and each worker counts a client's
    checks in its own memory: a client gets the limit from each worker, never more (here 2 workers x 5)."""
    server = served(KAPU_WORKERS="2", KAPU_CLIENT_CHECKS_PER_MINUTE="5")
    assert wait_for(lambda: len(server.worker_pids()) == 2, timeout=10), server.worker_pids()
    browser = Browser(server.url)
    browser.get("/activate")
    answers = [browser.post("/activate/check/password", {"password": "rövid"}) for _ in range(16)]
    statuses = [status for status, _body in answers]
    assert set(statuses) == {200, 429} and 5 <= statuses.count(200) <= 10, statuses
    assert all("at least 15 characters" in body for status, body in answers if status == 200)
    assert server.terminate() == 0
    lines = [line for line in server.stderr.splitlines() if "POST /activate/check/<field>" in line]
    assert len(lines) == 16 and "Traceback" not in server.stderr


def test_the_email_link_under_serve_fills_in_the_code_for_each_of_many_openings_at_once(served, tmp_path):
    """The link is answered before Flask (opened_links.py) in each worker: each of many citizens' browsers (and
    mail scanners) opening it at once gets the 303, a session that fills the code in, and one audit line."""
    server = served(KAPU_WORKERS="2")
    link = mailed_link_path(_environment(tmp_path), "link.opener", "link.opener@example.hu")

    def open_link(_):
        page = Browser(server.url).get(link)  # follows the 303 with the new session cookie
        return re.search(r'<input[^>]*name="code"[^>]*value="([^"]*)"', page).group(1)

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(open_link, range(24)))
    assert len(set(codes)) == 1 and CODE.fullmatch(codes[0]), codes
    assert server.terminate() == 0
    lines = [line for line in server.stderr.splitlines() if "GET /activate/<token> 303 " in line]
    assert len(lines) == 24 and "Traceback" not in server.stderr
    with sqlite3.connect(tmp_path / "kapu.db") as connection:
        opened = connection.execute(
            "SELECT outcome, count(*) FROM audit_event WHERE kind = 'link_opened' GROUP BY outcome"
        ).fetchall()
    assert opened == [("valid", 24)]
