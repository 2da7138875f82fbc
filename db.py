"""Where SQLite and PostgreSQL differ (opening, row claims, per-key locks, sequences): the domain asks here only."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import drivers  # noqa: I001 - before peewee: whether psycopg loads

# isort: split
from peewee import AutoField, DatabaseProxy, PostgresqlDatabase, SqliteDatabase

SQLITE_PRAGMAS = {
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "full",
}
# Per process: a worker's threads share these; a request returns its connection at teardown.
POOL_DEFAULTS = {"max_connections": 20, "stale_timeout": 300, "timeout": 10}


def open_database(url: str):
    """SQLite with WAL, foreign keys and IMMEDIATE write transactions; PostgreSQL through a psycopg 3 pool."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        writers = None if path == ":memory:" else WriterQueue(f"{path}.write-lock")
        return _WalSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", writers=writers)
    if url.startswith(drivers.POSTGRES_SCHEMES):
        if not drivers.postgres_available():
            raise RuntimeError(
                "KAPU_DATABASE_URL names PostgreSQL, but not in the environment this process started with, so the "
                "PostgreSQL driver was not loaded (drivers.py): set KAPU_DATABASE_URL before starting"
            )
        # Here, not at start: playhouse.db_url tries every optional driver it knows when imported.
        from playhouse.db_url import parseresult_to_dict
        from playhouse.postgres_ext import PooledPsycopg3Database

        options = {**POOL_DEFAULTS, **parseresult_to_dict(urlsplit(url), unquote_password=True, unquote_user=True)}
        return PooledPsycopg3Database(options.pop("database"), **options)
    raise ValueError(f"unsupported database URL {url!r}")


class WriterQueue:
    """Writers to one SQLite file queue here, on a file lock beside it, before they ask SQLite for its write lock.

    SQLite makes a writer that finds the lock taken sleep 1, 2, 5, 10, ... ms between tries. With two worker
    processes writing steadily (every POST counts a rate-limit hit) a waiter keeps missing the moments the lock is
    free, and some requests wait 100 ms and more. Here a waiter looks again every 50-800 us, so it gets the lock
    within a fraction of a millisecond of its release. Past the busy timeout it goes on to SQLite's own wait (and
    error): the file lock only orders writers, SQLite's lock still guards the data. A process that dies drops its
    file locks with it.
    """

    def __init__(self, path: str):
        self.path = path
        self._mine = threading.local()  # each thread (each connection) its own descriptor: flock excludes between them

    def take(self):
        if fcntl is None:  # no flock (Windows): one process serves, its threads queue in SQLite
            return
        handle = self._handle()
        pause, deadline = 0.00005, time.monotonic() + SQLITE_PRAGMAS["busy_timeout"] / 1000
        while True:
            try:
                fcntl.flock(handle.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                handle.held = True
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(pause)
                pause = min(pause * 2, 0.0008)

    def give_back(self):
        handle = getattr(self._mine, "handle", None)
        if handle is not None and handle.held:
            handle.held = False
            fcntl.flock(handle.fd, fcntl.LOCK_UN)

    def _handle(self):
        handle = getattr(self._mine, "handle", None)
        if handle is None or handle.pid != os.getpid():  # a descriptor from before a fork is shared: open anew
            handle = self._mine.handle = _LockFile(self.path)
        return handle


class _LockFile:
    """An open lock file, closed when its thread (or database) is gone."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.pid = os.getpid()
        self.held = False

    def __del__(self):
        os.close(self.fd)


class _WalSqliteDatabase(SqliteDatabase):
    """Every connection in WAL mode. Two processes opening a new file at once both switch it, and SQLite answers
    the loser "database is locked" at once, without its busy timeout: so the switch is retried for that long.
    Write transactions queue for SQLite's lock in a WriterQueue first."""

    def __init__(self, *args, writers: WriterQueue | None = None, **kwargs):
        self.writers = writers
        super().__init__(*args, **kwargs)

    def _add_conn_hooks(self, conn):
        super()._add_conn_hooks(conn)
        deadline = time.monotonic() + SQLITE_PRAGMAS["busy_timeout"] / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode = wal")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def begin(self, lock_type=None):
        if self.writers is None:
            return super().begin(lock_type)
        self.writers.take()
        try:
            super().begin(lock_type)
        except BaseException:
            self.writers.give_back()
            raise

    def commit(self):
        self._end(super().commit)

    def rollback(self):
        self._end(super().rollback)

    def _end(self, end):
        """End the transaction either way, then let the next writer in."""
        try:
            end()
        finally:
            if self.writers is not None:
                self.writers.give_back()


def is_postgres(database) -> bool:
    return isinstance(_real(database), PostgresqlDatabase)


def keeps_connection_per_thread(database) -> bool:
    """SQLite: each server thread keeps its connection (closing the last one checkpoints the WAL, costing ms).

    PostgreSQL: a request hands its connection back to the pool when it ends.
    """
    return isinstance(_real(database), SqliteDatabase)


def _real(database):
    return database.obj if isinstance(database, DatabaseProxy) else database


def close_all(database):
    """Close every connection, the pooled ones of all threads included (tests, and a process that ends)."""
    if hasattr(database, "close_all"):
        database.close_all()
    elif database.database != ":memory:":  # closing would lose an in-memory database
        database.close()


def claim_rows_for_update(query):
    """Rows of *query* that no other transaction holds, locked until this transaction ends.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so parallel claimers take different rows without waiting.
    SQLite: write transactions start IMMEDIATE, so the claiming transaction already excludes every other writer.
    """
    if is_postgres(query.model._meta.database):
        return query.for_update(skip_locked=True)
    return query


@contextlib.contextmanager
def counter_transaction(database):
    """A write transaction whose commit does not wait for the disk: for counters (rate-limit hits) that a power
    cut may lose without harm. Nested in another transaction it is part of that one, durability unchanged.

    SQLite: synchronous=NORMAL for this transaction (WAL keeps it atomic; the next FULL commit flushes it too).
    PostgreSQL: synchronous_commit off for this transaction alone.
    """
    if database.in_transaction():
        with database.atomic():
            yield
        return
    if is_postgres(database):
        with database.atomic():
            database.execute_sql("SET LOCAL synchronous_commit TO OFF")
            yield
        return
    database.execute_sql("PRAGMA synchronous = NORMAL")
    try:
        with database.atomic():
            yield
    finally:
        database.execute_sql(f"PRAGMA synchronous = {SQLITE_PRAGMAS['synchronous']}")


class Statement:
    """A query whose SQL text peewee builds once per kind of database, then runs again with new values.

    peewee builds a query's text on every run: 0.1-0.3 ms for even a small one, most of a rate-limit check's time,
    and every POST makes one. *build(*values)* makes the query; its values must reach the SQL unchanged and in
    order as the parameters (the first build checks), so the same text takes any other values.
    """

    def __init__(self, build):
        self.build = build
        self._texts = {}

    def run(self, database, *values):
        """The cursor of this statement run with *values* on *database*."""
        kind = type(_real(database))
        text = self._texts.get(kind)
        if text is None:
            text, params = self.build(*values).sql()
            if list(params) != list(values):
                raise ValueError(f"{text!r}: its parameters {params!r} are not the values {values!r} in order")
            self._texts[kind] = text
        return database.execute_sql(text, values)


def inserted_id(database, cursor) -> int:
    """The id of the row a Statement's INSERT made (PostgreSQL: peewee added RETURNING to it)."""
    return cursor.fetchone()[0] if is_postgres(database) else cursor.lastrowid


def lock_key(database, name: str):
    """Serialise every transaction that locks *name* until it ends; call inside a write transaction.

    PostgreSQL: a transaction-level advisory lock on a 64-bit hash of the name (released at commit or rollback).
    SQLite: the IMMEDIATE write transaction already holds the database's single write lock.
    """
    if not database.in_transaction():
        raise RuntimeError("lock_key needs a transaction to hold the lock")
    if is_postgres(database):
        number = int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:8], "big", signed=True)
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (number,))


def reset_sequences(database, models):
    """After rows were copied with their ids, let new rows continue past the highest id (PostgreSQL only)."""
    if not is_postgres(database):
        return
    for model in models:
        if not isinstance(model._meta.primary_key, AutoField):
            continue  # a table keyed by its own values has no sequence
        table = model._meta.table_name
        database.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608 - table names are ours
            f'COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)'
        )
