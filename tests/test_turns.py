"""A served worker's threads take turns running Python (turns.py): cheap requests run one at a time, as in a
single-threaded worker, and a login gives its turn up while argon2 runs, so a page is never held up by it."""

from __future__ import annotations

import threading
import time

import argon2
import pytest

import turns
from tests.support.helpers import at_once, csrf_token, in_parallel


@pytest.fixture
def taking_turns(app, monkeypatch):
    """The app as `serve` runs it in a worker: one turn, argon2 off-turn."""
    worker_turns = turns.Turns(1)
    monkeypatch.setattr(turns, "current", worker_turns)
    monkeypatch.setattr(app, "wsgi_app", turns.TakingTurns(app.wsgi_app, worker_turns))
    return worker_turns


def test_requests_run_one_at_a_time(app, taking_turns, monkeypatch):
    running, most = [0], [0]
    lock = threading.Lock()
    inner = app.wsgi_app.app

    def counting(environ, start_response):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)  # releases the GIL: without turns another thread would enter now
        with lock:
            running[0] -= 1
        return inner(environ, start_response)

    monkeypatch.setattr(app.wsgi_app, "app", counting)

    def page(_i, client, barrier):
        barrier.wait()
        return client.get("/activate").status_code

    statuses = in_parallel(app, page)
    assert statuses == [200] * len(statuses) and most[0] == 1


def test_a_login_gives_its_turn_up_while_argon2_runs(app, active, taking_turns, monkeypatch):
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

    def login_or_page(i, client, barrier):
        if i == 0:
            token = csrf_token(client, "/login")
            barrier.wait()
            form = {"csrf_token": token, "username": "kovacs.janos", "password": "kerekes kút mellett áll a nyírfa"}
            return client.post("/login", data=form).status_code, None
        barrier.wait()
        assert verifying.wait(10)
        status = client.get("/activate").status_code
        return status, verified.is_set()

    (login, _), (page, login_finished_first) = in_parallel(app, login_or_page, count=2)
    assert (login, page) == (303, 200)
    assert login_finished_first is False, "the page waited for the login's argon2"


def test_turns_go_to_waiting_threads_in_the_order_they_asked():
    worker_turns, order = turns.Turns(1), []
    holder_has_it, release_holder = threading.Event(), threading.Event()

    def holder():
        with worker_turns.turn():
            holder_has_it.set()
            release_holder.wait(10)

    def waiter(i):
        with worker_turns.turn():
            order.append(i)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert holder_has_it.wait(10)
    for i in range(5):
        threads.append(threading.Thread(target=waiter, args=(i,)))
        threads[-1].start()
        time.sleep(0.02)  # each is queued before the next asks
    release_holder.set()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_outside_a_server_nothing_waits_for_a_turn(app, services):
    assert turns.current is None  # tests and the command line hash without turns
    with app.app_context():
        assert in_parallel(app, at_once(lambda _: services.hasher.hash("egy kettő három négy öt")))[0]


def test_serve_takes_turns_on_sqlite_and_lets_threads_run_freely_on_postgresql(app, database_url, monkeypatch):
    import serving

    monkeypatch.setattr(turns, "current", None)
    served = serving.worker_app(app)
    if database_url.startswith("sqlite"):
        assert isinstance(served, turns.TakingTurns) and served.turns is turns.current and served.app is app
    else:
        assert served is app and turns.current is None
