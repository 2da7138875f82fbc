"""SQLite writers queue on a file lock before SQLite's own: held for exactly a write transaction, in any process."""

import multiprocessing
import threading

import pytest

import db

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def database(tmp_path):
    opened = db.open_database(f"sqlite:///{tmp_path / 'queue.db'}")
    opened.execute_sql("CREATE TABLE t (x INTEGER)")
    yield opened
    db.close_all(opened)


def _held_elsewhere(path) -> bool:
    """Whether another open file description holds the lock file (what another worker would find)."""
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_the_lock_is_held_for_a_write_transaction_and_only_then(database):
    path = database.writers.path
    with database.atomic():
        database.execute_sql("INSERT INTO t VALUES (1)")
        assert _held_elsewhere(path)
    assert not _held_elsewhere(path)
    with pytest.raises(RuntimeError), database.atomic():
        database.execute_sql("INSERT INTO t VALUES (2)")
        raise RuntimeError("the request failed")
    assert not _held_elsewhere(path)  # a rolled-back transaction gives it back too
    assert database.execute_sql("SELECT x FROM t").fetchall() == [(1,)]


def test_a_second_thread_writes_only_after_the_first_commits(database):
    order = []
    first_in, second_tried = threading.Event(), threading.Event()

    def second():
        first_in.wait(5)
        second_tried.set()
        with database.atomic():
            order.append("second")
            database.execute_sql("INSERT INTO t VALUES (2)")

    thread = threading.Thread(target=second)
    thread.start()
    with database.atomic():
        first_in.set()
        second_tried.wait(5)
        thread.join(0.2)  # the second thread waits in the queue meanwhile
        order.append("first")
        database.execute_sql("INSERT INTO t VALUES (1)")
    thread.join(5)
    assert order == ["first", "second"]


def _write_while_holding(path, holding, release):
    with_db = db.open_database(f"sqlite:///{path}")
    with with_db.atomic():
        with_db.execute_sql("INSERT INTO t VALUES (9)")
        holding.set()
        release.wait(10)
    db.close_all(with_db)


def test_another_process_holding_a_transaction_makes_this_one_wait(database, tmp_path):
    context = multiprocessing.get_context("fork")
    holding, release = context.Event(), context.Event()
    child = context.Process(target=_write_while_holding, args=(tmp_path / "queue.db", holding, release))
    child.start()
    try:
        assert holding.wait(10)
        waited = threading.Event()

        def write():
            with database.atomic():
                database.execute_sql("INSERT INTO t VALUES (1)")
            waited.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert not waited.wait(0.3)  # queued behind the other process
        release.set()
        assert waited.wait(5)
        writer.join(5)
    finally:
        release.set()
        child.join(10)
    assert sorted(database.execute_sql("SELECT x FROM t").fetchall()) == [(1,), (9,)]


def test_past_the_busy_timeout_sqlite_itself_answers(database, monkeypatch, tmp_path):
    import fcntl
    import os

    monkeypatch.setitem(db.SQLITE_PRAGMAS, "busy_timeout", 100)
    stuck = os.open(database.writers.path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # a lock holder that never writes: SQLite's own lock is free
    try:
        with database.atomic():
            database.execute_sql("INSERT INTO t VALUES (3)")
    finally:
        os.close(stuck)
    assert database.execute_sql("SELECT x FROM t").fetchall() == [(3,)]
