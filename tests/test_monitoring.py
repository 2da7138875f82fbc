"""/healthz, /readyz, /metrics and the logs: what monitoring and an operator see, and what they never see."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_other_formats_still_find_the_process_and_thread(client):
    """Kapu's set-up (done by then) leaves the logging module's defaults alone: a server run directly (gunicorn's
    own format prints the process id) or a library's format still finds what it prints."""
    record = logging.getLogger("kapu.test").makeRecord("kapu.test", logging.INFO, __file__, 7, "hello", (), None)
    shown = logging.Formatter("[%(process)d] [%(thread)d] %(filename)s:%(lineno)d %(message)s").format(record)
    assert re.fullmatch(r"\[\d+\] \[\d+\] test_monitoring\.py:7 hello", shown)


class PrivateLogging:
    """A logging hierarchy of its own (root, "kapu", "kapu.access") with Kapu's handler on its root, as
    logs.configure sets up the process's: what AccessLines sees without pytest's own handlers."""

    def __init__(self, log_format, clock=None):
        self.stream = io.StringIO()
        self.root = logging.RootLogger(logging.WARNING)
        self.manager = logging.Manager(self.root)
        self.manager.getLogger("kapu").setLevel(logging.INFO)
        self.logger = self.manager.getLogger("kapu.access")
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logs.formatter(log_format))
        self.root.addHandler(self.handler)
        self.lines = logs.AccessLines(self.handler, self.logger, **({"clock": clock} if clock else {}))

    def through_logging(self, fields, created):
        """What logging itself writes for log_access's record made at *created*."""
        record = self.logger.makeRecord(
            self.logger.name, logging.INFO, "(unknown file)", 0, logs.ACCESS_MESSAGE, (fields,), None, extra=fields
        )
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        self.logger.handle(record)

    def taken(self):
        text = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return text


ACCESS_FIELDS = st.fixed_dictionaries(
    {
        "request_id": st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
        "method": st.sampled_from(["GET", "POST", "HEAD"]),
        "route": st.sampled_from(["/activate", "/activate/check/<field>", "<unmatched>", "/static/<path:filename>"]),
        "status": st.integers(100, 599),
        "duration_ms": st.floats(0, 10**5, allow_nan=False).map(lambda ms: round(ms, 2)),
        "client": st.text(max_size=40),
    }
)


@pytest.mark.parametrize("log_format", ["text", "json"])
@settings(max_examples=200, deadline=None)
@given(fields=ACCESS_FIELDS, created=st.floats(0, 4 * 10**9, allow_nan=False, allow_infinity=False))
def test_property_an_access_line_written_straight_is_the_one_logging_writes(log_format, fields, created):
    """Byte for byte, in both formats, at any time (the text's second is remembered: it changes with the time)."""
    private = PrivateLogging(log_format, clock=lambda: created)
    assert private.lines.write(logs.ACCESS_MESSAGE % fields, fields)
    straight = private.taken()
    private.through_logging(fields, created)
    assert straight == private.taken()
    assert straight.endswith("\n")


def test_the_text_time_stays_right_as_the_seconds_pass():
    """The remembered second is redrawn when the second changes, forward or back (a clock set back)."""
    times = iter([1_700_000_000.25, 1_700_000_000.999, 1_700_000_001.0, 1_699_999_999.5])
    private = PrivateLogging("text", clock=lambda: next(times))
    fields = {"request_id": "0" * 16, "method": "GET", "route": "/", "status": 200, "duration_ms": 1.0, "client": "x"}
    for expected in (1_700_000_000.25, 1_700_000_000.999, 1_700_000_001.0, 1_699_999_999.5):
        private.lines.write(logs.ACCESS_MESSAGE % fields, fields)
        shown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expected))
        assert private.taken().startswith(f"{shown},{int((expected - int(expected)) * 1000):03d} INFO kapu.access: ")


def _another_handler(private):
    private.logger.addHandler(logging.NullHandler())


def _a_second_root_handler(private):
    private.root.addHandler(logging.StreamHandler(io.StringIO()))


def _the_same_handler_twice(private):
    private.manager.getLogger("kapu").addHandler(private.handler)


def _a_logger_filter(private):
    private.logger.addFilter(lambda record: False)


def _a_handler_filter(private):
    private.handler.addFilter(lambda record: True)


def _the_handler_above_info(private):
    private.handler.setLevel(logging.WARNING)


def _kapu_above_info(private):
    private.manager.getLogger("kapu").setLevel(logging.WARNING)


def _logging_disabled(private):
    private.manager.disable = logging.INFO
    private.manager._clear_cache()


def _the_logger_disabled(private):
    private.logger.disabled = True


def _another_formatter(private):
    private.handler.setFormatter(logging.Formatter("%(message)s"))


@pytest.mark.parametrize(
    "change",
    [
        _another_handler,
        _a_second_root_handler,
        _the_same_handler_twice,
        _a_logger_filter,
        _a_handler_filter,
        _the_handler_above_info,
        _kapu_above_info,
        _logging_disabled,
        _the_logger_disabled,
        _another_formatter,
    ],
)
def test_an_access_line_goes_through_logging_when_anything_else_would_see_or_stop_it(change):
    private = PrivateLogging("text")
    fields = {"request_id": "0" * 16, "method": "GET", "route": "/", "status": 200, "duration_ms": 1.0, "client": "x"}
    assert private.lines.write(logs.ACCESS_MESSAGE % fields, fields) and private.taken()
    change(private)
    assert not private.lines.alone()
    assert not private.lines.write(logs.ACCESS_MESSAGE % fields, fields)
    assert private.taken() == ""  # log_access then logs it through logging, which decides


def test_log_access_hands_its_record_to_logging_when_the_line_is_not_written_straight(monkeypatch, caplog):
    """pytest's capture is one more handler: the record reaches it, with its fields, and the line is written once."""
    monkeypatch.setattr(logs, "_access_lines", logs.AccessLines(logs._StderrHandler()))  # as configure leaves it
    fields = {"request_id": "1" * 16, "method": "GET", "route": "/x", "status": 204, "duration_ms": 0.5, "client": "y"}
    with caplog.at_level(logging.INFO, logger="kapu.access"):
        logs.log_access(fields)
    [record] = [r for r in caplog.records if r.name == "kapu.access"]
    assert record.getMessage() == "GET /x 204 0.5ms client=y id=1111111111111111" and record.status == 204


def test_a_failed_straight_write_is_left_to_logging():
    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("disk full")

    private = PrivateLogging("json")
    private.handler.setStream(Broken())
    fields = {"request_id": "0" * 16, "method": "GET", "route": "/", "status": 200, "duration_ms": 1.0, "client": "x"}
    assert not private.lines.write(logs.ACCESS_MESSAGE % fields, fields)


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
