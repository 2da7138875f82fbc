"""`serve`'s gunicorn workers: thread workers that share new connections fairly, and on SQLite take turns.

`SharingThreadWorker` is gunicorn's thread worker (gthread) that accepts a new connection only while it holds no
more than its share of all the workers' connections; `TurnTakingWorker` adds request threads taking turns
(turns.TurnPool) and is the worker on SQLite. gunicorn loads them by name (`--worker-class
turn_worker.TurnTakingWorker`); they need fork, as gunicorn does. Both answer with response_headers' Response.
"""

import gc
import mmap
import select
import selectors
import struct
import time
from concurrent import futures
from functools import partial

from gunicorn.workers import gthread

import response_headers
import turns

# How many connections each worker holds, in memory every worker shares: mapped when this module is imported, which
# is in gunicorn's master (it loads the worker class before it forks), so every worker it forks sees the same page.
# A slot per worker (its spawn number, modulo): its connection count and when it last wrote it.
_SLOTS = 64
_SLOT = struct.Struct("qd")
# A worker writes its slot at every turn of its event loop, which waits at most a second: an older slot is a worker
# that is gone.
_GONE_AFTER_SECONDS = 5.0
# A worker may hold this many connections above the even share before it leaves new ones to the others.
_SHARE_SLACK = 1
_connections = mmap.mmap(-1, _SLOTS * _SLOT.size)


def even_share(counts) -> int:
    """The most connections any one worker holds when *counts* (one per worker) are spread evenly."""
    return -(-sum(counts) // max(1, len(counts)))


class SharingThreadWorker(gthread.ThreadWorker):
    """A connection kept alive stays with the worker that accepted it, for as long as its client keeps it. When many
    arrive at once (a proxy's connection pool, a wave of browsers), the worker whose main thread happens to run first
    accepted them all while the others idled: in `make bench`, one worker then served everything at half the
    throughput, in about one run in three. So a worker above its share stops accepting until it is back within it,
    and the worker with the fewest connections always accepts."""

    def init_process(self):
        self._slot_offset = (self.age % _SLOTS) * _SLOT.size
        response_headers.answer_with_remembered_headers()
        super().init_process()

    def _publish(self, now=None):
        _SLOT.pack_into(_connections, self._slot_offset, self.nr_conns, time.monotonic() if now is None else now)

    def _within_share(self) -> bool:
        now = time.monotonic()
        self._publish(now)
        counts = [count for count, at in _SLOT.iter_unpack(_connections) if now - at < _GONE_AFTER_SECONDS]
        return self.nr_conns <= even_share(counts) + _SHARE_SLACK

    def set_accept_enabled(self, enabled):
        """gunicorn's loop asks again at every turn while accepting is off: a worker back within its share accepts."""
        super().set_accept_enabled(enabled and self._within_share())

    def accept(self, listener):
        super().accept(listener)
        if not self._within_share():
            super().set_accept_enabled(False)

    def murder_keepalived(self, force=False):
        """Runs at every turn of the loop (after closing idle connections): the slot stays current."""
        super().murder_keepalived(force)
        self._publish()

    def run(self):
        gc.freeze()  # the app, loaded by now, is never garbage: collections then walk only what requests made
        try:
            super().run()
        finally:
            _SLOT.pack_into(_connections, self._slot_offset, 0, 0.0)  # gone: the others stop counting it


class TurnTakingWorker(SharingThreadWorker):
    """The worker on SQLite: its request threads take turns (turns.TurnPool)."""

    def get_thread_pool(self):
        """gunicorn's documented hook for the worker's pool; the pool is also where a login gives its turn up."""
        turns.current = turns.TurnPool(self.cfg.threads)
        return turns.current

    def enqueue_req(self, conn):
        self.tpool.submit(self._serve_connection, conn)

    def _serve_connection(self, conn):
        """Serve the connection's request; a connection kept alive then goes back to the poller from this thread.

        gunicorn hands every finished request to the main thread (a pipe write, a wake-up, a callback), which
        then has to take the interpreter lock from the thread holding the turn: once per request, on top of the
        wake-up for the next request. A connection kept alive needs none of it. Anything else (a closed or
        deferred connection, an error, a stopping worker) goes to gunicorn's own finish_request as before."""
        done = futures.Future()
        try:
            result = self.handle(conn)
            if result is True and self.alive and not conn.parser.unreader.buf.getvalue():
                conn.sock.setblocking(False)
                conn.set_timeout()
                self.keepalived_conns.append(conn)  # before the poller can report it readable
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))
                return
            done.set_result(result)
        except BaseException as error:  # gunicorn's finish_request closes the connection
            done.set_exception(error)
        self.method_queue.defer(self.finish_request, conn, done)

    def _cap_keepalive(self, deadline):
        """gunicorn's, over a copy: the pool's threads may add a connection while the stopping loop goes through."""
        for conn in list(self.keepalived_conns):
            conn.timeout = min(conn.timeout, deadline)

    def handle(self, conn):
        """A new connection whose request has not arrived yet (a browser's preconnect, a slow client) waits for it
        without the turn, so it holds up no other request; as gunicorn does, it goes back to the poller if nothing
        comes within the worker's data timeout."""
        if not conn.initialized and not conn.data_ready:
            if select.select([conn.sock], [], [], 0)[0]:
                conn.data_ready = True
            else:
                with self.tpool.paused():
                    if not conn.wait_for_data(gthread.DEFAULT_WORKER_DATA_TIMEOUT):
                        return gthread._DEFER
        return super().handle(conn)
