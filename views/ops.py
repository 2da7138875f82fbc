"""Monitoring endpoints: liveness, readiness and Prometheus metrics (loopback or a bearer token)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, abort, current_app, jsonify, request

import metrics
from domain import health
from proxies import has_forwarding_headers

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = health.readiness(current_app.config)
    ready = all(verdict == "ok" for verdict in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def show_metrics():
    if not _may_scrape():
        abort(404)  # to everyone else the endpoint does not exist
    body, content_type = metrics.exposition()
    return current_app.response_class(body, content_type=content_type)


def _may_scrape() -> bool:
    """The bearer token when one is configured; otherwise only a loopback peer that came through no proxy."""
    token = current_app.config.get("KAPU_METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    if has_forwarding_headers(request.environ):
        return False  # any proxy header, trusted or not: a local proxy would make every visitor look local
    try:
        return ipaddress.ip_address(request.environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
