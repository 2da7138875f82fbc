"""A worker's request threads take turns running Python, and give the turn up while argon2 runs.

Under the GIL only one thread of a process runs Python at a time anyway; many threads contending for it make every
cheap request slower (switches, cache misses) than a one-thread worker would be. Threads are there so a login that
waits for or runs argon2 (which releases the GIL) does not hold up the pages behind it: so the turn is given up
exactly then (`paused`), and a worker is as quick as a single-threaded one at pages while logins never block them.

`serve` uses turns on SQLite, whose reads and writes are local and quick. On PostgreSQL a request also waits for
round trips to the database server, which the threads should overlap, so there each thread runs freely.
"""

from __future__ import annotations

import collections
import threading
from contextlib import contextmanager


class Turns:
    """*count* turns, handed to waiting threads in the order they asked (a plain semaphore lets late comers jump
    the queue, which gives some requests seconds-long tails under load)."""

    def __init__(self, count: int = 1):
        self._lock = threading.Lock()
        self._free = count
        self._waiting = collections.deque()
        self._mine = threading.local()

    def _acquire(self):
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append(gate)
        gate.acquire()  # released by _release, which hands this thread the turn

    def _release(self):
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1

    @contextmanager
    def turn(self):
        self._acquire()
        self._mine.held = True
        try:
            yield
        finally:
            self._mine.held = False
            self._release()

    @contextmanager
    def paused(self):
        """Give the turn up (if this thread has it) for slow work that runs without the GIL."""
        if not getattr(self._mine, "held", False):
            yield
            return
        self._mine.held = False
        self._release()
        try:
            yield
        finally:
            self._acquire()
            self._mine.held = True


class TakingTurns:
    """WSGI middleware: the app runs in the worker's turn; the response is sent outside it."""

    def __init__(self, app, turns: Turns):
        self.app, self.turns = app, turns

    def __call__(self, environ, start_response):
        with self.turns.turn():
            return self.app(environ, start_response)


# The process's turns: unlimited until the server installs some (tests and the command line never wait).
current: Turns | None = None


@contextmanager
def paused():
    if current is None:
        yield
    else:
        with current.paused():
            yield
