"""gunicorn's thread worker whose request threads take turns (turns.TurnPool): `serve`'s worker on SQLite.

gunicorn loads it by name (`--worker-class turn_worker.TurnTakingWorker`); it needs fork, as gunicorn does.
"""

from gunicorn.workers.gthread import ThreadWorker

import turns


class TurnTakingWorker(ThreadWorker):
    def get_thread_pool(self):
        """gunicorn's documented hook for the worker's pool; the pool is also where a login gives its turn up."""
        turns.current = turns.TurnPool(self.cfg.threads)
        return turns.current
