"""Operations on the real server (`serve`, gunicorn workers): readiness from the delivery loop, metrics summed over
workers, one access line per request."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import logs
import migrations
from tests.served import ROOT, ServedKapu, clean_environment, wait_for
from tests.smtp_server import SmtpServer
from tests.support.helpers import metric_sample, open_sqlite

pytestmark = pytest.mark.slow  # starts `serve` as a process


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_served_readiness_metrics_and_access_lines(tmp_path, smtp):
    env = clean_environment(
        KAPU_DATABASE_URL=f"sqlite:///{tmp_path / 'kapu.db'}",
        KAPU_WORKERS="2",
        KAPU_SECRET_KEY="served-ops-secret-key-long-enough",
        KAPU_SMTP_HOST="127.0.0.1",
        KAPU_SMTP_PORT=str(smtp.port),
    )
    server = ServedKapu(tmp_path, env).wait_ready()
    try:
        # The delivery loop (one worker holds the lease) beats, so the server becomes ready.
        assert wait_for(lambda: fetch(server.url + "/readyz")[0] == 200, timeout=30), fetch(server.url + "/readyz")
        status, body = fetch(server.url + "/readyz")
        assert json.loads(body)["checks"]["mail_delivery"] == "ok" and "127.0.0.1" not in body
        for _ in range(12):
            assert fetch(server.url + "/healthz")[0] == 200
        status, text = fetch(server.url + "/metrics")
        assert status == 200
        assert metric_sample(text, "kapu_http_requests_total", route="/healthz", status="200") == 12
        lines = [line for line in server.stderr.splitlines() if "kapu.access" in line and "GET /healthz 200" in line]
        assert len(lines) == 12
        # Whole, as logging's text format writes them (logs.AccessLines writes them itself in a served worker).
        shape = (
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO kapu\.access: "
            r"GET /healthz 200 [\d.]+ms client=127\.0\.0\.1 id=[0-9a-f]{16}"
        )
        assert all(re.fullmatch(shape, line) for line in lines), lines
    finally:
        assert server.terminate() == 0


def test_served_without_smtp_still_purges_by_itself(tmp_path):
    """Mail waiting in the database (no KAPU_SMTP_HOST) is no reason to keep personal data forever."""
    path = tmp_path / "kapu.db"
    database = open_sqlite(path)
    migrations.upgrade(database)
    database.close()
    with sqlite3.connect(path) as connection:  # a rate-limit hit from long ago: the purge forgets it
        connection.execute("INSERT INTO hit (key, at) VALUES ('login:someone', '2020-01-01 00:00:00')")
    env = clean_environment(
        KAPU_DATABASE_URL=f"sqlite:///{path}", KAPU_WORKERS="2", KAPU_SECRET_KEY="served-ops-secret-key-long-enough"
    )
    server = ServedKapu(tmp_path, env).wait_ready()

    def purge_runs():
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT count(*) FROM audit_event WHERE kind = 'purge'").fetchone()[0]

    def purged():
        """The purge's last steps: its audit line (after every batch of deletes), then its log line."""
        return purge_runs() > 0 and "daily purge deleted" in server.stderr

    try:
        assert wait_for(purged, timeout=30), server.stderr
        with sqlite3.connect(path) as connection:
            assert connection.execute("SELECT count(*) FROM hit WHERE at < '2021-01-01'").fetchone() == (0,)
        assert purge_runs() == 1  # once for the deployment, not once per worker
    finally:
        assert server.terminate() == 0


def test_a_json_log_holds_only_json_lines_even_the_servers_own(tmp_path):
    """KAPU_LOG_FORMAT=json: the start-up warnings, the access lines and gunicorn's report of a killed worker."""
    env = clean_environment(
        KAPU_DATABASE_URL=f"sqlite:///{tmp_path / 'kapu.db'}",
        KAPU_WORKERS="2",
        KAPU_SECRET_KEY="served-ops-secret-key-long-enough",
        KAPU_LOG_FORMAT="json",
        KAPU_DEV_MAILBOX="1",
    )
    server = ServedKapu(tmp_path, env).wait_ready()
    try:
        assert fetch(server.url + "/activate/some.token?code=ABCDE-FGHJK")[0] == 400
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)  # gunicorn says so and starts another
        assert wait_for(lambda: f"Worker (pid:{victim}) was sent SIGKILL" in server.stderr, timeout=30), server.stderr
    finally:
        assert server.terminate() == 0
    entries = [json.loads(line) for line in server.stderr.splitlines()]  # any other line fails here
    messages = [(entry["logger"], entry["level"], entry["message"]) for entry in entries]
    assert any(level == "WARNING" and "KAPU_DEV_MAILBOX is on" in message for _, level, message in messages)
    assert any(level == "WARNING" and "KAPU_SMTP_HOST is not set" in message for _, level, message in messages)
    assert any(logger == "gunicorn.error" and "SIGKILL" in message for logger, _, message in messages)
    access = [entry for entry in entries if entry["logger"] == "kapu.access"]
    assert [entry["route"] for entry in access][-1] == "/activate/<token>"
    assert list(access[-1]) == ["time", "level", "logger", "message", *logs.FIELDS]
    assert access[-1]["level"] == "INFO" and access[-1]["status"] == 400 and access[-1]["method"] == "GET"
    assert "ABCDE" not in server.stderr and "some.token" not in server.stderr


def test_restore_refuses_while_a_server_runs_on_the_database(tmp_path):
    env = clean_environment(
        KAPU_DATA_DIR=str(tmp_path / "data"), KAPU_WORKERS="2", KAPU_SECRET_KEY="served-ops-secret-key-long-enough"
    )

    def kapu(*args):
        command = [sys.executable, "-m", "flask", "--app", "app", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert kapu("backup", str(tmp_path / "kapu.tar")).returncode == 0
    server = ServedKapu(tmp_path, env).wait_ready()
    try:
        refused = kapu("restore", "--force", str(tmp_path / "kapu.tar"))
        assert refused.returncode != 0 and "a Kapu server is running on this database" in refused.stderr
        assert fetch(server.url + "/healthz")[0] == 200
    finally:
        assert server.terminate() == 0
    restored = kapu("restore", "--force", str(tmp_path / "kapu.tar"))
    assert restored.returncode == 0, restored.stderr
