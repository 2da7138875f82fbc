"""The production server behind `serve`: gunicorn's pre-forked workers, one mail deliverer, graceful SIGTERM.

Each worker runs a small delivery thread, started after the fork (no thread or connection crosses a fork), but only
the holder of the deployment's delivery lease sends mail: an exclusive lock on a file beside the SQLite database
(every process on that host shares it) or a PostgreSQL advisory lock (every server on that database shares it). So
mail leaves from exactly one place at a time however many workers and servers run; if that worker dies, another
takes the lease within seconds. Where fork is missing (Windows), waitress serves from one process instead.
"""

from __future__ import annotations

import drivers  # noqa: F401, I001 - before peewee: whether the PostgreSQL driver loads (see drivers.py)

# isort: split
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading

import db
import logs
import metrics
import turns
from domain import delivery, passwords, upkeep

# A worker's logins queue for its hashing slot (domain.passwords) while holding a thread each: enough threads that
# a burst of logins still leaves threads for the cheap requests (a forgotten password, a page) behind them.
THREADS_PER_WORKER = 16
GRACEFUL_SECONDS = 30  # requests in flight and the message being sent get this long after SIGTERM
LEASE_RETRY_SECONDS = 2.0
ADVISORY_LOCK_KEY = 0x4B617075  # "Kapu": the PostgreSQL advisory lock naming the deployment's deliverer

log = logging.getLogger("kapu.serve")


def run(app, host: str, port: int, workers: int, threads: int = THREADS_PER_WORKER):
    """Serve *app* until SIGTERM/SIGINT; returns only after a graceful stop."""
    _ensure_log_output()
    _release_connection(app)  # the workers are forked from this process: they open their own
    transport = delivery.SmtpSettings.from_config(app.config)
    if hasattr(os, "fork"):
        # Every worker's counters in shared files, so any worker's /metrics tells the whole server's.
        metrics_folder = tempfile.mkdtemp(prefix="kapu-metrics-")
        metrics.prepare_multiprocess(metrics_folder)
        try:
            _serve_gunicorn(app, host, port, workers, threads, transport)
        finally:
            shutil.rmtree(metrics_folder, ignore_errors=True)
    else:
        _serve_waitress(app, host, port, threads, transport)


def _ensure_log_output():
    """Kapu's own lines (start, stop) reach stderr unless logging was configured elsewhere."""
    kapu_log = logging.getLogger("kapu")
    if not kapu_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        kapu_log.addHandler(handler)
    if kapu_log.level == logging.NOTSET:
        kapu_log.setLevel(logging.INFO)


def _release_connection(app):
    db.close_all(app.extensions["kapu_database"])  # pooled ones too: a forked worker must not share their sockets


class DeliveryLease:
    """The right to deliver the outbox for the whole deployment; held by at most one thread anywhere."""

    def __init__(self, database_url: str):
        self.url = database_url
        self.held = False
        self._handle = None

    def acquire(self) -> bool:
        """Try once without waiting; True while this holder has the lease."""
        if self.held:
            return True
        if self.url.startswith("sqlite:///"):
            self.held = self._lock_file(self.url[len("sqlite:///") :])
        elif self.url.startswith(("postgresql://", "postgres://")):
            self.held = self._lock_advisory()
        else:
            self.held = True
        return self.held

    def _lock_file(self, path):
        try:
            import fcntl
        except ImportError:  # no flock (Windows): that server runs a single process anyway
            return True
        if path == ":memory:":
            return True
        descriptor = os.open(f"{path}.delivery-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._handle = descriptor
        return True

    def _lock_advisory(self):
        if self._handle is None:
            self._handle = db.open_database(self.url)  # a connection of its own: the lock lives with it
        try:
            row = self._handle.execute_sql("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()
        except Exception:
            self._close_advisory()
            raise
        return bool(row and row[0])

    def _close_advisory(self):
        if self._handle is not None:
            db.close_all(self._handle)  # ending the session (not handing it back to a pool) releases the lock
        self._handle = None

    def release(self):
        if self.url.startswith(("postgresql://", "postgres://")):
            self._close_advisory()
        elif isinstance(self._handle, int):
            os.close(self._handle)  # closing the descriptor drops the flock
            self._handle = None
        self.held = False


class Deliverer(threading.Thread):
    """Sends the outbox while this process holds the lease; checks for a stop between messages.

    Without an SMTP transport (mail waits in the database) it still does the deployment's housekeeping: the daily
    retention purge runs by itself either way."""

    def __init__(self, app, transport, interval=1.0):
        super().__init__(name="kapu-delivery", daemon=True)
        self.app = app
        self.transport = transport
        self.interval = interval
        self.lease = DeliveryLease(app.config["KAPU_DATABASE_URL"])
        self.stopping = threading.Event()

    def run(self):
        kapu = self.app.extensions["kapu"]
        database = self.app.extensions["kapu_database"]
        try:
            while not self.stopping.is_set():
                try:
                    if self.lease.acquire():
                        with self.app.app_context():
                            while (
                                self.transport is not None
                                and not self.stopping.is_set()
                                and delivery.deliver_due(kapu, self.transport, limit=1)
                            ):
                                pass
                            upkeep.tick(self.app)  # heartbeat for /readyz, the daily purge
                except Exception:  # one bad round must not end delivery; the log says what happened
                    log.exception("mail delivery round failed")
                self.stopping.wait(self.interval if self.lease.held else LEASE_RETRY_SECONDS)
        finally:
            self.lease.release()
            if not database.is_closed():
                database.close()

    def stop(self, timeout=GRACEFUL_SECONDS - 5):
        """Let the message being sent finish, then stop (within the graceful period)."""
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=timeout)


def _announce_stop(signal_name):
    log.info("%s received: finishing requests in flight and the message being sent, then stopping", signal_name)


def worker_app(app):
    """What a worker serves: the app; on SQLite its threads take turns (turn_worker), on PostgreSQL they run freely
    and overlap their round trips to the database server."""
    if db.is_postgres(app.extensions["kapu_database"]):
        turns.current = None
    return app


def worker_class(app):
    """gunicorn's worker for *app*: its thread worker sharing new connections fairly among the workers, with threads
    taking turns on SQLite (turn_worker)."""
    from turn_worker import SharingThreadWorker, TurnTakingWorker

    return SharingThreadWorker if db.is_postgres(app.extensions["kapu_database"]) else TurnTakingWorker


def create_worker_app():
    """Kapu as `serve`'s workers run it, for gunicorn started directly (`make bench`: serving:create_worker_app(),
    with `--worker-class turn_worker.TurnTakingWorker` on SQLite)."""
    from app import create_app

    return worker_app(create_app())


def _serve_gunicorn(app, host, port, workers, threads, transport):
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter
    from gunicorn.glogging import Logger

    class KapuLogger(Logger):
        """gunicorn's own lines (a worker killed or timed out) in Kapu's format: plain, or JSON with KAPU_LOG_FORMAT."""

        def setup(self, cfg):
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(logs.formatter(app.config["KAPU_LOG_FORMAT"]))

    deliverer = {}

    hashing_slots = max(1, round((os.cpu_count() or 1) / workers))  # the worker's share of the cores

    def post_worker_init(worker):
        passwords.limit_concurrent_hashing(hashing_slots)
        thread = deliverer["thread"] = Deliverer(app, transport)
        thread.start()
        worker_handler = signal.getsignal(signal.SIGTERM)

        def on_term(signum, frame):  # no new message from now on; worker_exit waits for the current one
            thread.stopping.set()
            worker_handler(signum, frame)

        signal.signal(signal.SIGTERM, on_term)

    def worker_exit(server, worker):
        if "thread" in deliverer:
            deliverer["thread"].stop()

    class KapuArbiter(Arbiter):
        def handle_term(self):
            _announce_stop("SIGTERM")
            super().handle_term()

        def handle_int(self):
            _announce_stop("SIGINT")
            self.stop(graceful=True)  # Ctrl+C in a terminal is graceful too
            raise StopIteration

    class KapuServer(BaseApplication):
        def load_config(self):
            settings = {
                "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
                "workers": workers,
                "worker_class": worker_class(app),
                "threads": threads,
                "graceful_timeout": GRACEFUL_SECONDS,
                "timeout": 120,
                "keepalive": 5,
                "proc_name": "kapu",
                "loglevel": "warning",
                "errorlog": "-",
                "logger_class": KapuLogger,
                "accesslog": None,
                # Forwarding headers are the app's business (KAPU_TRUSTED_PROXIES); gunicorn trusts none.
                "forwarded_allow_ips": "",
                "secure_scheme_headers": {},
                "control_socket_disable": True,
                "post_worker_init": post_worker_init,
                "worker_exit": worker_exit,
                "child_exit": lambda server, worker: metrics.process_exited(worker.pid),
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return worker_app(app)

        def run(self):
            try:
                KapuArbiter(self).run()
            except RuntimeError as error:
                sys.exit(f"kapu: {error}")

    KapuServer().run()


def _serve_waitress(app, host, port, threads, transport):
    """One process where fork is missing; SIGTERM closes the listener and lets the threads finish."""
    import waitress

    # Kapu decides which forwarding headers count (KAPU_TRUSTED_PROXIES); waitress would otherwise delete them
    # first, and /dev/mailbox could not see that a proxy stands in front.
    server = waitress.create_server(
        app, host=host, port=port, threads=threads * 2, ident="kapu", clear_untrusted_proxy_headers=False
    )
    deliverer = Deliverer(app, transport)  # delivery when SMTP is set; the daily purge either way
    deliverer.start()

    def stop(signum, _frame):
        _announce_stop(signal.Signals(signum).name)
        server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except OSError:  # the closed listener ends waitress's loop
        pass
    finally:
        server.task_dispatcher.shutdown(timeout=GRACEFUL_SECONDS)
        deliverer.stop()
