"""Small helpers every view uses."""

from flask import current_app, request


def kapu():
    return current_app.extensions["kapu"]


def client_address() -> str:
    return request.remote_addr or "unknown"


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"
