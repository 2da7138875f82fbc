"""gunicorn's thread worker whose request threads take turns (turns.TurnPool): `serve`'s worker on SQLite.

gunicorn loads it by name (`--worker-class turn_worker.TurnTakingWorker`); it needs fork, as gunicorn does.
"""

import select

from gunicorn.workers import gthread

import turns


class TurnTakingWorker(gthread.ThreadWorker):
    def get_thread_pool(self):
        """gunicorn's documented hook for the worker's pool; the pool is also where a login gives its turn up."""
        turns.current = turns.TurnPool(self.cfg.threads)
        return turns.current

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
