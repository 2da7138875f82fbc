"""Kapu run as an operator runs it: a `serve` subprocess on a free port, driven over real HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")


def clean_environment(**settings):
    """The caller's environment without any KAPU_* setting, plus *kapu*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPU_")}
    env.update({k: str(v) for k, v in settings.items()})
    return env


class ServedKapu:
    """`<command> serve` in a subprocess; output goes to files so a full pipe never stalls it."""

    def __init__(self, folder: Path, env: dict, args=(), command=None, cwd=ROOT):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = command or [sys.executable, "-m", "flask", "--app", "app"]
        self.out_path = folder / f"serve-{self.port}.out"
        self.err_path = folder / f"serve-{self.port}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [*command, "serve", "--port", str(self.port), *args],
                cwd=cwd,
                env={"KAPU_BASE_URL": self.url, **env},
                stdout=out,
                stderr=err,
            )

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}: {self.stderr}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise AssertionError(f"serve did not answer within {timeout} s: {self.stderr}")

    def worker_pids(self):
        """The processes whose parent is the server (gunicorn's workers)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def terminate(self, timeout=45.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def stdout(self):
        return self.out_path.read_text()

    @property
    def stderr(self):
        return self.err_path.read_text()


class Browser:
    """A cookie-keeping HTTP client that remembers the last CSRF token it saw."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = None

    def get(self, path):
        with self.opener.open(self.base + path, timeout=30) as response:
            body = response.read().decode()
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
        self.token = found.group(1) if found else self.token
        return body

    def post(self, path, data):
        """POST a form with the CSRF token; return (status, body) without following a redirect."""
        request = urllib.request.Request(
            self.base + path, data=urllib.parse.urlencode({"csrf_token": self.token, **data}).encode()
        )
        opener = urllib.request.build_opener(
            _NoRedirect, *[h for h in self.opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)]
        )
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def cookie_header(self):
        jar = next(h.cookiejar for h in self.opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor))
        return "; ".join(f"{c.name}={c.value}" for c in jar)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def mailed_link_path(env, username, email):
    """The path of a new office registration's activation link, made on the database *env* names (one that a
    `serve` process may be serving)."""
    from app import create_app
    from domain import registration

    app = create_app({k: v for k, v in env.items() if k.startswith("KAPU_")})
    with app.test_request_context():
        link = registration.register(
            app.extensions["kapu"],
            username=username,
            full_name="Teszt Elek",
            email=email,
            language="hu",
            channel="office",
        ).link
    app.extensions["kapu_database"].close()
    return urllib.parse.urlsplit(link).path


def register(base, username, email, full_name="Teszt Elek"):
    browser = Browser(base)
    browser.get("/register")
    status, body = browser.post("/register", {"username": username, "full_name": full_name, "email": email})
    assert status == 200, (status, body[:500])
    return browser


def activate(base, username, code, password):
    browser = Browser(base)
    browser.get("/activate")
    return browser.post(
        "/activate", {"username": username, "code": code, "password": password, "password_confirm": password}
    )[0]


def login(base, username, password):
    browser = Browser(base)
    browser.get("/login")
    return browser.post("/login", {"username": username, "password": password})[0]


def wait_for(predicate, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
