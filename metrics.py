"""Prometheus metrics: requests, latency and outcomes counted in-process; the outbox read at scrape time.

Several worker processes: the serving code calls `prepare_multiprocess(directory)` in the parent before the
app is created (it sets PROMETHEUS_MULTIPROC_DIR, so counters live in shared files) and `process_exited(pid)`
when a worker ends. The outbox gauges come from the database, so they are right whichever worker answers.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

from flask import request

from domain import audit, clock

_metrics = None


def prepare_multiprocess(directory) -> None:
    """Give every worker process one shared metrics folder (emptied: counters restart with the server)."""
    directory = Path(directory)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # in case prometheus_client was imported before
    global _metrics
    _metrics = None  # collectors made before this point (by create_app) are made again, file-backed


def process_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (gunicorn's child_exit hook)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _Metrics:
    """The collectors, made once per process (after prepare_multiprocess, when the server uses it)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kapu_http_requests",
            "HTTP requests by route rule, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kapu_http_request_duration_seconds",
            "Time to answer a request, by route rule",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.rate_limited = Counter(
            "kapu_rate_limited", "Requests refused with 429, by route rule", ["route"], registry=self.registry
        )
        self.activations = Counter("kapu_activations", "Accounts activated", registry=self.registry)
        self.failed_logins = Counter("kapu_login_failures", "Failed logins", registry=self.registry)
        self._children = {}  # (route, method, status): the collectors' children observe_request updates

    def observe_request(self, route, method, status, seconds):
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:  # a label lookup takes a lock and a tuple: once per route, method and status
            limited = self.rate_limited.labels(route) if status == 429 else None
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
                limited,
            )
        count, latency, limited = children
        count.inc()
        latency.observe(seconds)
        if limited is not None:
            limited.inc()

    def observe_audit(self, kind, outcome):
        if kind == "activation" and outcome == "success":
            self.activations.inc()
        elif kind == "login" and outcome == "failed":
            self.failed_logins.inc()


def collectors() -> _Metrics:
    """This process's collectors, made on first use (in a worker, that is after the fork)."""
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def init_app(app):
    """Count every answer by route rule and status, and time it; count activations and failed logins."""
    import logs

    audit.listen(_observe_audit)

    @app.after_request
    def _observe(response):
        collectors().observe_request(logs.route(), request.method, response.status_code, logs.elapsed_ms() / 1000)
        return response


def _observe_audit(kind, outcome):
    collectors().observe_audit(kind, outcome)


class OutboxCollector:
    """Outbox gauges read from the database at scrape time (shared by every worker and server)."""

    def collect(self):
        import peewee
        from prometheus_client.core import GaugeMetricFamily

        from models import OutboxMessage

        waiting = OutboxMessage.status.in_(("pending", "sending"))
        try:
            pending = OutboxMessage.select().where(waiting).count()
            failed = OutboxMessage.select().where(OutboxMessage.status == "failed").count()
            oldest = (
                OutboxMessage.select(OutboxMessage.created_at).where(waiting).order_by(OutboxMessage.created_at).first()
            )
        except peewee.DatabaseError:
            return  # the database does not answer (/readyz says so): the request counters are still scraped
        age = (clock.now() - oldest.created_at) / timedelta(seconds=1) if oldest else 0.0
        yield GaugeMetricFamily("kapu_outbox_pending", "Mail waiting to be sent", value=pending)
        yield GaugeMetricFamily(
            "kapu_outbox_oldest_pending_seconds", "Age of the oldest mail waiting", value=max(0.0, age)
        )
        yield GaugeMetricFamily("kapu_outbox_failed", "Mail given up on (cannot be decrypted)", value=failed)


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets: this process's (or every worker's) counters plus the outbox gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    own = collectors()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(own.registry)
    outbox = CollectorRegistry()
    outbox.register(OutboxCollector())
    return body + generate_latest(outbox), CONTENT_TYPE_LATEST
