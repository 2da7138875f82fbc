"""Several servers, one PostgreSQL: two Kapu processes started at once on an empty database share every guarantee.

Citizens register on one server and activate on the other; a real SMTP server (aiosmtpd) receives every mail
exactly once, though both servers run their own delivery loop.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import STRONG_PASSWORD
from tests.smtp_server import SmtpServer, free_port

pytestmark = pytest.mark.slow  # starts two servers on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
CITIZENS = 6
CODE = re.compile(r"\b([2-9A-Z]{5}-[2-9A-Z]{5})\b")


class Browser:
    """A cookie-keeping HTTP client for one server (what a citizen's browser does, without JavaScript)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path):
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.status, response.read().decode()

    def post_form(self, path, fields):
        """Fill the form on *path* (its CSRF token included) and submit it; status and page."""
        _, page = self.get(path)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
        try:
            with self.opener.open(self.base_url + path, data=data, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class KapuServer:
    def __init__(self, env, port):
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(env["KAPU_DATA_DIR"]) / f"server-{port}.log", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env={**env, "KAPU_BASE_URL": self.url}, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server at {self.url} stopped:\n{self.output()}")
            try:
                if Browser(self.url).get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"the server at {self.url} did not answer in {timeout} s:\n{self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def two_servers(postgres_server, smtp, tmp_path):
    """Two servers started at the same moment on one empty PostgreSQL database."""
    name = postgres_server.create_database()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KAPU_")},
        "KAPU_DATABASE_URL": postgres_server.url(name),
        "KAPU_SECRET_KEY": "one-secret-for-the-whole-deployment",
        "KAPU_SMTP_HOST": "127.0.0.1",
        "KAPU_SMTP_PORT": str(smtp.port),
        "KAPU_LANGUAGE": "en",
        "KAPU_DATA_DIR": str(tmp_path),
        "KAPU_WORKERS": "2",  # two servers of two pre-forked workers each: four processes on one database
    }
    servers = [KapuServer(env, free_port()) for _ in range(2)]
    try:
        for server in servers:
            server.wait_until_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(name)


def mails_to(smtp, address):
    return [mail for mail in smtp.received if address in mail["to"]]


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_register_on_one_server_activate_on_the_other_every_mail_exactly_once(two_servers, smtp):
    first, second = two_servers
    addresses = [f"polgar{i}@example.hu" for i in range(CITIZENS)]
    for i, address in enumerate(addresses):
        status, _ = Browser(two_servers[i % 2].url).post_form(
            "/register", {"username": f"polgar.{i}", "full_name": "Teszt Polgár", "email": address})
        assert status == 200
    assert wait_for(lambda: all(mails_to(smtp, address) for address in addresses)), "a mail never arrived"

    for i, address in enumerate(addresses):
        code = CODE.search(mails_to(smtp, address)[0]["message"].get_body(("plain",)).get_content()).group(1)
        other = two_servers[(i + 1) % 2]
        status, page = Browser(other.url).post_form("/activate", {
            "username": f"polgar.{i}", "code": code, "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD})
        assert status == 200, page[-2000:]
        # The same code used again, on the server that issued it: refused.
        again, _ = Browser(two_servers[i % 2].url).post_form("/activate", {
            "username": f"polgar.{i}", "code": code, "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD})
        assert again >= 400

    time.sleep(3)  # both delivery loops have run several more rounds: nothing is sent twice
    for address in addresses:
        assert len(mails_to(smtp, address)) == 1, f"{address} got {len(mails_to(smtp, address))} mails"
    assert len(mails_to(smtp, "demo@example.hu")) <= 1  # a demo seeded on the empty database, by one server
    message_ids = [mail["message"]["Message-ID"] for mail in smtp.received]
    assert len(message_ids) == len(set(message_ids))
    assert first.process.poll() is None and second.process.poll() is None
