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
        fields = {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}
        entry = self.line_entry(record.created, record.levelname, record.name, record.getMessage(), fields)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    def line(self, created: float, msecs: float, levelname: str, name: str, message: str, fields: dict) -> str:
        """format() of a record with these attributes and no exception (AccessLines writes it without one)."""
        shown = {key: fields[key] for key in FIELDS if key in fields}
        return json.dumps(self.line_entry(created, levelname, name, message, shown), ensure_ascii=False)

    @staticmethod
    def line_entry(created, levelname, name, message, fields) -> dict:
        return {
            "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
            "level": levelname,
            "logger": name,
            "message": message,
            **fields,
        }


class TextFormatter(logging.Formatter):
    """`time level logger: message`, the time as logging's default (local, with milliseconds)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = (None, "")  # the last second written, as text: one strftime per second, not per line

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self._time(record.created, record.msecs)

    def formatMessage(self, record):  # noqa: N802 - logging's name
        return _text_line(record.asctime, record.levelname, record.name, record.message)

    def line(self, created: float, msecs: float, levelname: str, name: str, message: str, fields: dict) -> str:
        """format() of a record with these attributes and no exception (AccessLines writes it without one)."""
        return _text_line(self._time(created, msecs), levelname, name, message)

    def _time(self, created, msecs):
        second, text = self._second
        if second != int(created):
            text = time.strftime(self.default_time_format, self.converter(created))
            self._second = (int(created), text)
        return self.default_msec_format % (text, msecs)


def _text_line(asctime, levelname, name, message):
    return f"{asctime} {levelname} {name}: {message}"


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
    return TextFormatter()


def configure(log_format: str):
    """One handler, to stderr, for Kapu's lines (INFO and up) and the libraries' warnings and errors alike, so
    nothing reaches the log in another format (only the first call in a process counts)."""
    global _configured, _access_lines
    if _configured:
        return
    _configured = True
    handler = _StderrHandler()
    handler.setFormatter(formatter(log_format))
    logging.getLogger().addHandler(handler)  # the root keeps its level (WARNING) for everyone else
    kapu = logging.getLogger("kapu")
    kapu.handlers[:] = []  # its lines reach the root's handler
    kapu.setLevel(logging.INFO)
    _access_lines = AccessLines(handler)


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


ACCESS_MESSAGE = "%(method)s %(route)s %(status)s %(duration_ms)sms client=%(client)s id=%(request_id)s"


def log_access(fields: dict):
    """One access line: *fields* holds every name in FIELDS (JSON lines carry them as keys)."""
    lines = _access_lines
    if lines is None or not lines.write(ACCESS_MESSAGE % fields, fields):
        access_log.info(ACCESS_MESSAGE, fields, extra=fields)


class AccessLines:
    """Writes an access line straight to Kapu's handler while nothing else would see its record.

    Every request writes one, and the logging module's way there (a LogRecord, the loggers' and handlers' checks,
    the formatter's pass over the record) cost about 30 µs of a live check's 200-250 (in one process). When the line
    would reach *handler* alone, unfiltered (logging's set-up as `configure` leaves it), it is written as that
    handler would write it: the same formatter's text (tests/test_monitoring.py holds the two equal), under the
    handler's lock, flushed. Anything else listening (a handler or filter added, a level or logging.disable
    raised, pytest's capture) gets the record through logging as before.
    """

    def __init__(self, handler: logging.StreamHandler, logger: logging.Logger = access_log, clock=time.time):
        self.handler, self.logger, self.clock = handler, logger, clock

    def alone(self) -> bool:
        """Whether logging would hand an INFO record of the logger to the handler and to nothing else."""
        handler, logger = self.handler, self.logger
        if not logger.isEnabledFor(logging.INFO) or logger.filters or logger.disabled:
            return False
        if handler.filters or handler.level > logging.INFO or not hasattr(handler.formatter, "line"):
            return False
        reached, node = 0, logger
        while node is not None:
            for met in node.handlers:
                if met is not handler:
                    return False
                reached += 1
            node = node.parent if node.propagate else None
        return reached == 1

    def write(self, message: str, fields: dict) -> bool:
        """Write the line unless something else listens (False: log it through logging)."""
        if not self.alone():
            return False
        handler, created = self.handler, self.clock()
        line = handler.formatter.line(
            created, int((created - int(created)) * 1000) + 0.0, "INFO", self.logger.name, message, fields
        )  # msecs as a LogRecord has them
        try:
            with handler.lock:
                handler.stream.write(line + handler.terminator)
                handler.flush()
        except Exception:  # noqa: BLE001 - logging's own path tries again and reports it its way
            return False
        return True


_access_lines: AccessLines | None = None  # set by configure


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
