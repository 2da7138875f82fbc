"""/healthz, /readyz, /metrics and the logs: what monitoring and an operator see, and what they never see."""

from __future__ import annotations

import json
import logging
import re

import pytest

import db
import logs
from app import create_app
from domain import clock, upkeep
from models import OutboxMessage, database
from tests.support.helpers import FAST_HASHER, SECRET_KEY, Auth, csrf_token, metric_sample, register_citizen

SMTP_HOST = "smtp.internal.example"


@pytest.fixture
def smtp_app(make_app):
    app = make_app(KAPU_SMTP_HOST=SMTP_HOST, KAPU_SMTP_PORT="2525")
    yield app


def test_healthz_is_a_small_json_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_without_smtp_checks_database_and_schema(client, app):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}
    with app.app_context():
        database.execute_sql("INSERT INTO schema_version (version) VALUES (99)")
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["schema"] == "mismatch"


def test_readyz_with_smtp_needs_a_live_delivery_loop_and_a_short_queue(smtp_app, registered_in, frozen_clock):
    client = smtp_app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["mail_delivery"] == "stalled"
    with smtp_app.app_context():
        upkeep.beat()
    assert client.get("/readyz").status_code == 200
    registered_in(smtp_app)
    frozen_clock.advance(minutes=20)  # the mail has waited 20 minutes (and the loop stopped beating)
    body = client.get("/readyz").get_json()
    assert body["checks"]["mail_age"] == "too_old" and body["checks"]["mail_delivery"] == "stalled"
    with smtp_app.app_context():
        upkeep.beat()
        OutboxMessage.update(status="sent").execute()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert SMTP_HOST not in response.get_data(as_text=True) and "2525" not in response.get_data(as_text=True)


@pytest.fixture
def registered_in():
    from domain import registration

    def register(app):
        with app.test_request_context():
            registration.register(
                app.extensions["kapu"],
                username="kovacs.janos",
                full_name="Kovács János",
                email="janos@example.hu",
                language="en",
                channel="online",
            )

    return register


def test_metrics_from_loopback_count_requests_failed_logins_and_the_outbox(client, registered):
    before = client.get("/metrics").get_data(as_text=True)
    client.get("/activate")
    client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "username": "kovacs.janos",
            "password": "wrong password entirely",
        },
    )
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert (
        metric_sample(text, "kapu_http_requests_total", route="/activate", method="GET", status="200")
        == metric_sample(before, "kapu_http_requests_total", route="/activate", method="GET", status="200") + 1
    )
    assert metric_sample(text, "kapu_login_failures_total") == metric_sample(before, "kapu_login_failures_total") + 1
    assert metric_sample(text, "kapu_http_request_duration_seconds_count", route="/activate") >= 1
    assert metric_sample(text, "kapu_outbox_pending") == 1
    assert metric_sample(text, "kapu_outbox_oldest_pending_seconds") >= 0
    assert "kapu_outbox_failed 0.0" in text


def test_metrics_count_activations_429s_and_mail_given_up(make_app):
    app = make_app(KAPU_LOGIN_MAX_FAILURES="1")
    auth = Auth.of(app)
    register_citizen(app, language="en")
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    assert auth.activate().status_code == 200
    statuses = [auth.login(password="wrong password entirely").status_code for _ in range(3)]
    assert 429 in statuses
    with app.app_context():
        OutboxMessage.update(status="failed").execute()
    text = client.get("/metrics").get_data(as_text=True)
    assert metric_sample(text, "kapu_activations_total") == metric_sample(before, "kapu_activations_total") + 1
    assert metric_sample(text, "kapu_rate_limited_total", route="/login") == metric_sample(
        before, "kapu_rate_limited_total", route="/login"
    ) + statuses.count(429)
    assert metric_sample(text, "kapu_http_requests_total", route="/login", status="429") >= statuses.count(429)
    assert metric_sample(text, "kapu_outbox_failed") == 1 and metric_sample(text, "kapu_outbox_pending") == 0
    assert "kapu_http_request_duration_seconds_bucket" in text  # a histogram, not only a sum


def test_when_the_database_refuses_healthz_stays_up_readyz_is_503_and_pages_show_a_reference(
    postgres_server, tmp_path, caplog
):
    """A real PostgreSQL that stops taking connections (and drops the open ones) while the app runs."""
    name = postgres_server.create_database()
    app = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,  # as in production: the 500 page, not the exception
            "KAPU_DATABASE_URL": postgres_server.url(name),
            "KAPU_DATA_DIR": str(tmp_path),
            "KAPU_SECRET_KEY": SECRET_KEY,
            "KAPU_SMTP_HOST": "",
            "KAPU_LANGUAGE": "en",
            "PASSWORD_HASHER": FAST_HASHER,
        }
    )
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200 and client.get("/notices").status_code == 200
        postgres_server.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        postgres_server.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")  # noqa: S608 - our own name
        assert client.get("/healthz").status_code == 200  # alive: the process answers
        response = client.get("/readyz")
        assert response.status_code == 503 and response.get_json()["checks"] == {"database": "unavailable"}
        assert name not in response.get_data(as_text=True)
        with caplog.at_level(logging.ERROR, logger="kapu.error"):
            page = client.get("/notices")
        assert page.status_code == 500
        shown = re.search(r"reference: ([0-9a-f]{16})", page.get_data(as_text=True)).group(1)
        assert [r.request_id for r in caplog.records if r.name == "kapu.error"] == [shown]
        assert client.get("/metrics").status_code == 200  # the request counters are still scraped
        postgres_server.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert client.get("/readyz").status_code == 200  # ready again by itself
    finally:
        db.close_all(app.extensions["kapu_database"])
        postgres_server.drop_database(name)


@pytest.mark.parametrize(
    "how",
    [
        {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}},
        {"headers": {"X-Forwarded-For": "203.0.113.9"}},
        # a local proxy that passes on only the scheme or the host is still a proxy
        {"headers": {"X-Forwarded-Proto": "https"}},
        {"headers": {"X-Forwarded-Host": "kapu.example"}},
    ],
)
def test_metrics_are_hidden_from_anyone_else(client, how):
    assert client.get("/metrics", **how).status_code == 404


def test_metrics_with_a_token_need_it_even_from_loopback(make_app):
    app = make_app(KAPU_METRICS_TOKEN="scrape-token-0123456789")
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 404
    assert (
        client.get(
            "/metrics",
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
            headers={"Authorization": "Bearer scrape-token-0123456789"},
        ).status_code
        == 200
    )


def test_one_access_line_per_request_with_the_route_never_the_token_or_query(client, caplog):
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        client.get("/activate/SECRETTOKEN123?code=ABCDE-FGHJK")
        client.get("/no-such-page?token=xyz")
    lines = [r for r in caplog.records if r.name == "kapu.access"]
    assert len(lines) == 2
    first, second = (r.getMessage() for r in lines)
    assert first.startswith("GET /activate/<token> ") and " client=127.0.0.1 " in first
    assert second.startswith("GET <unmatched> 404 ")
    for text in (first, second):
        assert "SECRETTOKEN" not in text and "ABCDE" not in text and "xyz" not in text
    assert lines[0].status in (200, 302, 303, 400, 404) and lines[0].duration_ms >= 0


def test_static_files_get_their_access_line_too_with_the_real_client(make_app, caplog):
    """WhiteNoise answers them before Flask: they still get one line each, the client as the proxy settings say."""
    client = make_app(KAPU_TRUSTED_PROXIES="1").test_client()
    page = client.get("/activate").get_data(as_text=True)
    stylesheet = re.search(r'href="(/static/css/[^"]+)"', page).group(1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        served = client.get(
            stylesheet, headers={"X-Forwarded-For": "198.51.100.7"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
        )
        missing = client.get("/static/css/no-such-file.css?v=SECRET")
    served.close()
    assert served.status_code == 200 and missing.status_code == 404
    lines = [r for r in caplog.records if r.name == "kapu.access"]
    assert [line.getMessage().split(" ")[:3] for line in lines] == [
        ["GET", "/static/<path:filename>", "200"],
        ["GET", "/static/<path:filename>", "404"],
    ]
    assert lines[0].client == "198.51.100.7" and "SECRET" not in lines[1].getMessage()
    assert re.fullmatch(r"[0-9a-f]{16}", lines[0].request_id) and lines[0].duration_ms >= 0


def test_json_lines_carry_the_fields(client, caplog):
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        client.get("/healthz")
    record = next(r for r in caplog.records if r.name == "kapu.access")
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["route"] == "/healthz" and entry["status"] == 200 and entry["method"] == "GET"
    assert entry["level"] == "INFO" and re.fullmatch(r"[0-9a-f]{16}", entry["request_id"])


def test_a_line_is_not_made_to_look_up_what_no_format_shows(client, caplog):
    """Kapu's formats name no source line, thread or process: the logging module does not look them up."""
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        client.get("/healthz")
    record = next(r for r in caplog.records if r.name == "kapu.access")
    assert (record.lineno, record.threadName, record.processName) == (0, None, None)
    for format_name in ("text", "json"):
        shown = logs.formatter(format_name).format(record)
        assert "None" not in shown and "unknown" not in shown


def test_an_unhandled_error_is_logged_with_the_id_the_page_shows(app, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom/<secret>")
    def boom(secret):
        raise RuntimeError("kaboom")

    with caplog.at_level(logging.ERROR, logger="kapu.error"):
        response = app.test_client().get("/boom/tok3n")
    assert response.status_code == 500
    shown = re.search(r"reference: ([0-9a-f]{16})", response.get_data(as_text=True)).group(1)
    (record,) = [r for r in caplog.records if r.name == "kapu.error"]
    assert record.request_id == shown and record.exc_info[0] is RuntimeError
    assert "tok3n" not in record.getMessage() and "/boom/<secret>" in record.getMessage()


def test_log_format_is_validated():
    import config

    with pytest.raises(config.ConfigError, match="KAPU_LOG_FORMAT"):
        config.load({"KAPU_SECRET_KEY": "x" * 20, "KAPU_LOG_FORMAT": "xml"}, "/tmp/kapu-unused")
    assert clock.now()


MULTIPROCESS_SCRIPT = """
import os, sys
import metrics
metrics.prepare_multiprocess(sys.argv[1])
from app import create_app
app = create_app({"KAPU_DATABASE_URL": "sqlite:///" + sys.argv[2], "KAPU_SECRET_KEY": "x" * 32,
                  "KAPU_SMTP_HOST": ""})
app.extensions["kapu_database"].close()
children = []
for _ in range(2):  # two forked workers answer one request each, like gunicorn's
    pid = os.fork()
    if pid == 0:
        app.test_client().get("/healthz")
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
    metrics.process_exited(pid)
print(app.test_client().get("/metrics").get_data(as_text=True))
"""


@pytest.mark.slow  # starts processes
def test_worker_processes_add_up_in_multiprocess_mode(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT, str(tmp_path / "prom"), str(tmp_path / "k.db")],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert metric_sample(result.stdout, "kapu_http_requests_total", route="/healthz", status="200") == 2


@pytest.mark.slow  # starts the command line as a process
def test_json_format_end_to_end(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import logging; from app import create_app; app = create_app(); app.test_client().get('/activate/tok?x=1'); "
        "app.extensions['kapu_database'].close(); logging.getLogger('a.library').warning('a library warns'); "
        "logging.getLogger('a.library').info('and chatters')"
    )
    env = {
        **os.environ,
        "KAPU_LOG_FORMAT": "json",
        "KAPU_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "KAPU_SECRET_KEY": "y" * 32,
        "KAPU_SMTP_HOST": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    entries = [json.loads(line) for line in result.stderr.splitlines()]  # every line: JSON
    assert [(e["logger"], e["message"]) for e in entries if e["logger"] == "a.library"] == [
        ("a.library", "a library warns")
    ]
    access = [e for e in entries if e["logger"] == "kapu.access"]
    assert len(access) == 1 and access[0]["route"] == "/activate/<token>", result.stderr
    assert "tok" not in json.dumps(access[0]).replace("<token>", "")


def test_readyz_says_when_the_backlog_is_too_long(make_app, registered_in):
    app = make_app(KAPU_SMTP_HOST=SMTP_HOST, KAPU_READY_MAX_BACKLOG="1")
    with app.app_context():
        upkeep.beat()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    registered_in(app)
    assert client.get("/readyz").status_code == 200  # one waiting message is within the limit of one
    from domain import registration

    with app.test_request_context():
        registration.register(
            app.extensions["kapu"],
            username="nagy.anna",
            full_name="Nagy Anna",
            email="anna@example.hu",
            language="en",
            channel="online",
        )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "schema": "ok",
        "mail_backlog": "too_high",
        "mail_age": "ok",
        "mail_delivery": "ok",
    }
