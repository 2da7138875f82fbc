"""Logging set up once: plain lines for a terminal, JSON with KAPU_LOG_FORMAT=json; one access line per request."""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime

from flask import g, request

access_log = logging.getLogger("kapu.access")
error_log = logging.getLogger("kapu.error")
# Fields an access or error line carries besides its message (never a path, query string or token).
FIELDS = ("request_id", "method", "route", "status", "duration_ms", "client")
_configured = False


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (it may be replaced after start-up)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def formatter(log_format: str) -> logging.Formatter:
    """Kapu's line format: also given to the server's own logger, so a JSON log holds nothing but JSON."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure(log_format: str):
    """One handler, to stderr, for Kapu's lines (INFO and up) and the libraries' warnings and errors alike, so
    nothing reaches the log in another format (only the first call in a process counts)."""
    global _configured
    if _configured:
        return
    _configured = True
    # No line names its caller's source line, thread or process (see formatter), so the logging module need not
    # find them for every record: the logging HOWTO's "Optimization" settings (a stack walk, the thread's and
    # the multiprocessing process's names; every request writes an access line).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = _StderrHandler()
    handler.setFormatter(formatter(log_format))
    logging.getLogger().addHandler(handler)  # the root keeps its level (WARNING) for everyone else
    kapu = logging.getLogger("kapu")
    kapu.handlers[:] = []  # its lines reach the root's handler
    kapu.setLevel(logging.INFO)


def init_app(app, client_address):
    """Request ids, the access line, and tracebacks logged with the id the error page shows."""
    configure(app.config["KAPU_LOG_FORMAT"])

    @app.before_request
    def _start():
        g.request_id = new_request_id()
        g.request_started = time.perf_counter()

    @app.after_request
    def _access(response):
        fields = request_fields(client_address)
        fields.update(status=response.status_code, duration_ms=round(elapsed_ms(), 2))
        log_access(fields)
        return response

    def log_exception(exc_info):
        fields = request_fields(client_address)
        error_log.error(
            "unhandled error in %(method)s %(route)s id=%(request_id)s", fields, exc_info=exc_info, extra=fields
        )

    app.log_exception = log_exception  # Flask's own would log the raw path (tokens) and no id


# Request ids come from a generator of their own: whatever seeds `random` (a test library) cannot make them repeat.
# A forked worker reseeds it, or it would draw the ids its siblings draw.
_ids = random.Random()
if hasattr(os, "register_at_fork"):  # not on Windows, where no worker is forked
    os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    """16 hex digits naming one request in the log and on its error page. An id, not a secret: not from
    os.urandom, a system call that also gives up the GIL."""
    return f"{_ids.getrandbits(64):016x}"


def log_access(fields: dict):
    """One access line: *fields* holds every name in FIELDS (JSON lines carry them as keys)."""
    access_log.info(
        "%(method)s %(route)s %(status)s %(duration_ms)sms client=%(client)s id=%(request_id)s", fields, extra=fields
    )


def route() -> str:
    """The URL rule (`/activate/<token>`), never the path a visitor sent."""
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def elapsed_ms() -> float:
    return (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000


def request_fields(client_address) -> dict:
    return {
        "request_id": g.get("request_id", "-"),
        "method": request.method,
        "route": route(),
        "client": client_address(),
    }


class StaticAccessLog:
    """The access line for the files WhiteNoise answers before Flask sees the request (*served* says which)."""

    ROUTE = "/static/<path:filename>"

    def __init__(self, app, served):
        self.app, self.served = app, served

    def __call__(self, environ, start_response):
        if not self.served(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        started, answer = time.perf_counter(), {}

        def remember_status(status, headers, exc_info=None):
            answer["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        response = self.app(environ, remember_status)
        fields = {
            "request_id": new_request_id(),
            "method": environ.get("REQUEST_METHOD", "-"),
            "route": self.ROUTE,
            "client": environ.get("REMOTE_ADDR") or "unknown",
            "status": answer.get("status", 0),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        log_access(fields)
        return response
