"""A served worker's threads take turns running Python (turns.TurnPool, `serve`'s pool on SQLite): requests run one
at a time, as in a single-threaded worker, the thread with the turn takes the next request itself, and a login
gives its turn up while argon2 runs, so a page is never held up by it."""

from __future__ import annotations

import threading
import time

import argon2
import pytest

import turns
from tests.support.helpers import at_once, csrf_token, in_parallel


@pytest.fixture
def pool(monkeypatch):
    worker_pool = turns.TurnPool(8)
    monkeypatch.setattr(turns, "current", worker_pool)
    yield worker_pool
    worker_pool.shutdown(wait=True)


def _results(submitted, timeout=30):
    return [future.result(timeout=timeout) for future in submitted]


def test_pool_runs_one_request_at_a_time(pool):
    running, most = [0], [0]
    lock = threading.Lock()

    def request(i):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)  # releases the GIL: a plain thread pool would start the next request now
        with lock:
            running[0] -= 1
        return i

    assert _results([pool.submit(request, i) for i in range(12)]) == list(range(12))
    assert most[0] == 1


def test_the_thread_with_the_turn_takes_the_waiting_requests_itself(pool):
    started, release = threading.Event(), threading.Event()

    def first():
        started.set()
        release.wait(10)
        return threading.get_ident()

    holder = pool.submit(first)
    assert started.wait(10)
    queued = [pool.submit(threading.get_ident) for _ in range(6)]
    release.set()
    assert set(_results(queued)) == {holder.result(timeout=10)}  # no hand-over from thread to thread


def test_a_paused_request_lets_the_others_run_and_comes_back_before_new_ones(pool):
    in_argon2, argon2_done, page_running = threading.Event(), threading.Event(), threading.Event()
    order = []

    def login():
        with turns.paused():
            in_argon2.set()
            argon2_done.wait(10)  # argon2 would run here, without the GIL and without the turn
        order.append("login")

    def page(name, hold=None):
        def run():
            if hold:
                page_running.set()
                hold.wait(10)
            order.append(name)

        return run

    release_first_page = threading.Event()
    submitted = [pool.submit(login)]
    assert in_argon2.wait(10)
    submitted.append(pool.submit(page("page 1", release_first_page)))
    assert page_running.wait(10)  # a page runs while the login is in argon2
    submitted += [pool.submit(page(f"page {i}")) for i in (2, 3)]
    argon2_done.set()
    deadline = time.monotonic() + 10
    while pool._returning == 0 and time.monotonic() < deadline:  # the login is back and waits for the turn
        time.sleep(0.001)
    release_first_page.set()
    _results(submitted)
    assert order == ["page 1", "login", "page 2", "page 3"]


def test_a_failing_request_reaches_its_future_and_the_pool_goes_on(pool):
    def broken():
        raise ValueError("a bug in one request")

    failed = pool.submit(broken)
    with pytest.raises(ValueError, match="a bug"):
        failed.result(timeout=10)
    assert pool.submit(lambda: "next").result(timeout=10) == "next"


def test_the_pool_serves_the_app_and_a_page_is_answered_while_a_login_runs_argon2(app, active, pool, monkeypatch):
    verifying, verified = threading.Event(), threading.Event()
    real_verify = argon2.PasswordHasher.verify

    def slow_verify(self, hash, password):  # noqa: A002
        verifying.set()
        time.sleep(0.5)
        try:
            return real_verify(self, hash, password)
        finally:
            verified.set()

    monkeypatch.setattr(argon2.PasswordHasher, "verify", slow_verify)
    login_client, page_client = app.test_client(), app.test_client()
    token = csrf_token(login_client, "/login")
    form = {"csrf_token": token, "username": "kovacs.janos", "password": "kerekes kút mellett áll a nyírfa"}
    database = app.extensions["kapu_database"]

    def log_in():
        try:
            return login_client.post("/login", data=form).status_code
        finally:
            database.close()  # the pool thread's own connection

    def show_page():
        try:
            return page_client.get("/activate").status_code, verified.is_set()
        finally:
            database.close()

    login = pool.submit(log_in)
    assert verifying.wait(10)
    page = pool.submit(show_page)
    assert page.result(timeout=10) == (200, False), "the page waited for the login's argon2"
    assert login.result(timeout=10) == 303


def test_serve_takes_turns_on_sqlite_and_lets_threads_run_freely_on_postgresql(app, database_url):
    import serving
    from turn_worker import SharingThreadWorker, TurnTakingWorker

    chosen = serving.worker_class(app)
    if database_url.startswith("sqlite"):
        assert chosen is TurnTakingWorker
    else:
        assert chosen is SharingThreadWorker


def test_outside_a_server_nothing_waits_for_a_turn(app, services):
    assert turns.current is None  # tests and the command line hash without turns
    with app.app_context():
        assert in_parallel(app, at_once(lambda _: services.hasher.hash("egy kettő három négy öt")))[0]
