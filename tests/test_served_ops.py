"""Operations on the real server (`serve`, gunicorn workers): readiness from the delivery loop, metrics summed over
workers, one access line per request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.served import ServedKapu, clean_environment, wait_for
from tests.smtp_server import SmtpServer
from tests.support.helpers import metric_sample

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
    finally:
        assert server.terminate() == 0
