"""`serve`'s workers share a burst of new connections (turn_worker.SharingThreadWorker): a connection kept alive
stays with the worker that accepted it, so one worker must not take them all while the others are slow to wake."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.served import ROOT, clean_environment
from tests.smtp_server import free_port
from turn_worker import even_share

pytestmark = pytest.mark.slow  # starts gunicorn as a process

BURST = 12


def test_the_even_share_rounds_up_and_counts_every_worker():
    assert even_share([]) == 0
    assert even_share([4, 0]) == 2
    assert even_share([5, 0]) == 3
    assert even_share([3, 3, 3]) == 3


def _children(pid):
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _start_two_workers():
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            "2",
            "--worker-class",
            "turn_worker.TurnTakingWorker",
            "--threads",
            "4",
            "--keep-alive",
            "30",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "tests.support.pid_app:app",
        ],
        cwd=ROOT,
        env=clean_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Ready when both workers answer: each is then in its loop and has written its count (a worker that has not
    # yet counts as gone, and the other would take every connection). Six connections held open at once are more
    # than one worker's share, so both answer as soon as both run.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = set(_children(server.pid))
        try:
            probes = Burst(port, 6)
            try:
                ready = len(workers) == 2 and set(probes.answered_by(5)) == workers
            finally:
                probes.close()
            if ready:
                time.sleep(1.5)  # each worker sees its probes closed and writes its count (0) again
                return server, port
        except OSError:
            pass
        time.sleep(0.1)
    server.kill()
    pytest.fail("gunicorn's two workers did not both answer")


def _body(response: bytes) -> bytes | None:
    """The body of a whole answer (headers and Content-Length bytes); None while it is still arriving."""
    head, separator, body = response.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), None
    )
    return body if separator and length is not None and len(body) >= length else None


class Burst:
    """Connections opened at once (BURST of them), each sending one request and keeping its connection."""

    def __init__(self, port, count=BURST):
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: kapu.test\r\n\r\n")
        self.received = {sock: b"" for sock in self.sockets}

    def answered_by(self, seconds):
        """The worker process ids that answered, reading whatever arrives within *seconds*."""
        deadline = time.monotonic() + seconds
        while (waiting := [s for s in self.sockets if _body(self.received[s]) is None]) and (
            left := deadline - time.monotonic()
        ) > 0:
            for sock in select.select(waiting, [], [], left)[0]:
                self.received[sock] += sock.recv(4096)
        return [int(body) for body in map(_body, self.received.values()) if body is not None]

    def close(self):
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def two_workers():
    """(server process, port); stopped at the end (killed if it does not stop)."""
    server, port = _start_two_workers()
    yield server, port
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@contextlib.contextmanager
def frozen(pid):
    """The process stopped (SIGSTOP) for the block: as if its main thread never got a core."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture
def burst():
    opened = []
    yield lambda port: opened.append(Burst(port)) or opened[-1]
    for each in opened:
        each.close()


def test_a_burst_goes_to_the_other_worker_too_and_a_worker_that_stopped_is_left_out_after_5_s(two_workers, burst):
    server, port = two_workers
    awake, asleep = _children(server.pid)
    with frozen(asleep):
        connections = burst(port)
        first = connections.answered_by(1.5)
        # Alone, the awake worker stops at its share of the 12 (with the other's count 0) plus one: 4.
        assert set(first) == {awake} and 1 <= len(first) <= 5, first
        # A worker that publishes nothing for 5 s is taken for gone: the awake one then takes the rest.
        assert connections.answered_by(8) == [awake] * BURST


def test_a_burst_is_shared_as_soon_as_the_other_worker_wakes(two_workers, burst):
    server, port = two_workers
    _awake, asleep = _children(server.pid)
    with frozen(asleep):
        connections = burst(port)
        assert len(connections.answered_by(1.5)) <= 5
    answered = connections.answered_by(10)
    assert len(answered) == BURST
    assert answered.count(asleep) >= BURST - 5, answered


def test_a_kept_alive_connection_serves_request_after_request_and_a_stop_closes_it(two_workers):
    """TurnTakingWorker hands a kept-alive connection back to the poller from the pool's thread: every request on
    it is answered by the same worker, and a stopping worker still closes it within gunicorn's linger."""
    server, port = two_workers
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        answered = []
        for _ in range(30):
            connection.sendall(b"GET / HTTP/1.1\r\nHost: kapu.test\r\n\r\n")
            received = b""
            while _body(received) is None:
                received += connection.recv(4096)
            answered.append(int(_body(received)))
        assert len(set(answered)) == 1 and answered[0] in _children(server.pid)
        stopping = time.monotonic()
        server.terminate()
        assert connection.recv(4096) == b""  # closed by the worker, not left to the client
        assert time.monotonic() - stopping < 10
    assert server.wait(timeout=30) == 0
