"""A worker's request threads take turns running Python, and give the turn up while argon2 runs.

Under the GIL only one thread of a process runs Python at a time anyway; many threads contending for it make every
cheap request slower (switches, cache misses) than a one-thread worker would be. Threads are there so a login that
waits for or runs argon2 (which releases the GIL) does not hold up the pages behind it: so the turn is given up
exactly then (`paused`), and a worker is as quick as a single-threaded one at pages while logins never block them.

`serve`'s workers on SQLite (turn_worker) run their requests in a TurnPool: SQLite's reads and writes are local
and quick. On PostgreSQL a request also waits for
round trips to the database server, which the threads should overlap, so there each thread runs freely.
"""

from __future__ import annotations

import collections
import threading
from concurrent import futures
from contextlib import contextmanager


class TurnPool(futures.Executor):
    """A worker's request threads, taking turns: gunicorn's thread pool for a worker on SQLite.

    The thread holding the turn takes the next waiting request itself, as a single-threaded (sync) worker would:
    a busy worker hands no request from thread to thread. The other threads wait for the turn, not for requests,
    and step in only when the turn is given up: by a login while argon2 runs (`paused`), or when no request is
    left. A thread coming back from argon2 gets the turn before any new request.
    """

    def __init__(self, max_threads: int):
        self._lock = threading.Lock()
        self._for_work = threading.Condition(self._lock)  # idle threads
        self._for_return = threading.Condition(self._lock)  # threads back from paused work
        self._work = collections.deque()
        self._turn_free = True
        self._returning = 0
        self._idle = 0
        self._threads: list[threading.Thread] = []
        self._max_threads = max_threads
        self._stopping = False
        self._mine = threading.local()

    def submit(self, fn, /, *args, **kwargs):
        future = futures.Future()
        with self._lock:
            if self._stopping:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._work.append((future, fn, args, kwargs))
            if self._turn_free:
                self._hand_over()
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._stopping = True
            if cancel_futures:
                while self._work:
                    self._work.popleft()[0].cancel()
            self._for_work.notify_all()
        if wait:
            for thread in list(self._threads):
                thread.join()

    def _hand_over(self):
        """The turn is free (lock held): to a thread back from paused work first, else to an idle thread."""
        if self._returning:
            self._for_return.notify()
        elif self._work:
            if self._idle:
                self._for_work.notify()
            elif len(self._threads) < self._max_threads:
                thread = threading.Thread(target=self._serve, name=f"kapu-turn-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _serve(self):
        self._lock.acquire()
        try:
            while True:
                while not (self._work and self._turn_free and not self._returning):
                    if self._stopping and not self._work:
                        return
                    self._idle += 1
                    self._for_work.wait()
                    self._idle -= 1
                self._turn_free = False
                while self._work and not self._returning:  # keep the turn while requests wait
                    future, fn, args, kwargs = self._work.popleft()
                    self._lock.release()
                    try:
                        self._run(future, fn, args, kwargs)
                    finally:
                        self._lock.acquire()
                self._turn_free = True
                self._hand_over()
        finally:
            self._lock.release()

    def _run(self, future, fn, args, kwargs):
        if not future.set_running_or_notify_cancel():
            return
        self._mine.held = True
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:  # the future carries it to gunicorn's callback
            future.set_exception(error)
        else:
            future.set_result(result)
        finally:
            self._mine.held = False

    @contextmanager
    def paused(self):
        """Give the turn up (if this thread has it) for slow work that runs without the GIL."""
        if not getattr(self._mine, "held", False):
            yield
            return
        with self._lock:
            self._mine.held = False
            self._turn_free = True
            self._hand_over()
        try:
            yield
        finally:
            with self._lock:
                self._returning += 1
                while not self._turn_free:
                    self._for_return.wait()
                self._returning -= 1
                self._turn_free = False
                self._mine.held = True


# The worker's pool: none until gunicorn's worker makes one (tests and the command line never wait).
current: TurnPool | None = None


@contextmanager
def paused():
    if current is None:
        yield
    else:
        with current.paused():
            yield
