"""A real PostgreSQL server for tests: Debian's server binaries, a throw-away cluster on a free loopback port.

initdb and postgres refuse to run as root: as root, the cluster is run as the `postgres` system user.
The server is started by the thread that runs the tests and ends with their process.
Durability is switched off (fsync, synchronous_commit): a test cluster never has to survive a power cut.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from tests.smtp_server import free_port

SUPERUSER = "kapu"


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kapu-pg-"))
        self.data = self.root / "data"
        self.process = None
        self._as_owner = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            # setpriv execs in place (no parent process in between), so signals reach the server itself.
            self._as_owner = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        # The server stops (SIGINT, its fast shutdown) when the test process that started it dies, even by kill -9.
        # A second setpriv sets it after the first changed the user, since a change of user clears it.
        self._dies_with_tests = ["setpriv", "--pdeathsig=INT", "--"] if shutil.which("setpriv") else []

    def start(self, timeout=30.0):
        subprocess.run(
            [
                *self._as_owner,
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.log = open(self.root / "server.log", "wb")  # noqa: SIM115 - open for the server's whole life
        self.process = subprocess.Popen(
            [
                *self._as_owner,
                *self._dies_with_tests,
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("PostgreSQL did not start:\n" + self.log_text()) from None
                time.sleep(0.1)

    def url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def log_text(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def admin(self, sql: str):
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql)

    def create_database(self) -> str:
        """A new, empty database; its name."""
        name = f"kapu_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def empty_database(self, name: str):
        """Drop every table, sequence and index of *name* (far quicker than a new database)."""
        with psycopg.connect(self.url(name), autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def drop_database(self, name: str):
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            # SIGINT is the fast shutdown: open sessions are ended, no waiting for them.
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
