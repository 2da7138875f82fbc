"""The tests' own PostgreSQL server does not outlive the test process that started it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.postgres_server import server_binaries
from tests.support.helpers import missing

ROOT = Path(__file__).resolve().parent.parent
START_AND_WAIT = """
import sys, time
from pathlib import Path
from tests.postgres_server import PostgresServer, server_binaries
server = PostgresServer(server_binaries()).start()
print(server.process.pid, flush=True)
time.sleep(120)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has ended


@pytest.mark.slow  # starts a PostgreSQL server in a process of its own
def test_a_killed_test_run_takes_its_postgresql_server_with_it():
    if server_binaries() is None:
        missing("PostgreSQL server binaries are missing: install Debian's postgresql package")
    tests = subprocess.Popen([sys.executable, "-c", START_AND_WAIT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        server = int(tests.stdout.readline())
        assert alive(server)
        tests.send_signal(signal.SIGKILL)  # no fixture teardown, no atexit: as when a run is killed
        tests.wait(timeout=10)
        deadline = time.monotonic() + 20
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(server), "the PostgreSQL server outlived the test process that started it"
    finally:
        tests.kill()
        tests.wait()
        tests.stdout.close()
