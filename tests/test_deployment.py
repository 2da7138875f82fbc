"""Several servers, one PostgreSQL, one proxy: two Kapu processes started at once on an empty database, behind one
nginx that spreads the requests over both, share every guarantee.

Citizens reach the deployment only through the proxy (HTTPS, from their own address); nginx's round robin sends
one citizen's registration to one server and the activation to the other; a real SMTP server (aiosmtpd) receives
every mail exactly once, though both servers run their own delivery loop.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.smtp_server import SmtpServer, free_port
from tests.support.helpers import STRONG_PASSWORD
from tests.support.tls_proxy import TlsProxy

pytestmark = pytest.mark.slow  # starts two servers on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
CITIZENS = 6
CODE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
LINK = re.compile(r"https://\S+/activate/[A-Za-z0-9._\-]+")
# Citizens connect from an address of their own; the proxy (127.0.0.1) is the only one Kapu trusts.
CITIZEN_ADDRESS = "127.0.0.2"
PROXY_ADDRESS = "127.0.0.1"


class _FromAddress(urllib.request.HTTPSHandler):
    """HTTPS from a chosen local address, checking the proxy's certificate."""

    def __init__(self, context, address):
        super().__init__(context=context)
        self.connection = functools.partial(http.client.HTTPSConnection, context=context, source_address=(address, 0))

    def https_open(self, req):
        return self.do_open(self.connection, req)


class Browser:
    """A cookie-keeping HTTP client (what a citizen's browser does, without JavaScript)."""

    def __init__(self, base_url, certificate=None):
        self.base_url = base_url
        handlers = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        if certificate is not None:
            handlers.append(_FromAddress(ssl.create_default_context(cafile=str(certificate)), CITIZEN_ADDRESS))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path):
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.status, response.read().decode()

    def post_form(self, path, fields, page=None):
        """Fill the form on *path* (its CSRF token included; from *page* when it is already shown) and submit it;
        status and page."""
        if page is None:
            _, page = self.get(path)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
        # As a browser does: the page the form came from (Flask-WTF checks it on HTTPS).
        request = urllib.request.Request(self.base_url + path, data=data, headers={"Referer": self.base_url + path})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class KapuServer:
    def __init__(self, env, port):
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(env["KAPU_DATA_DIR"]) / f"server-{port}.log", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
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
        return self.whole_output()[-3000:]

    def whole_output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

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
def deployment(postgres_server, smtp, tmp_path):
    """Two servers started at the same moment on one empty PostgreSQL database, behind one nginx."""
    name = postgres_server.create_database()
    ports = [free_port(), free_port()]
    proxy = TlsProxy(tmp_path / "nginx", upstream_port=ports)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KAPU_")},
        "KAPU_DATABASE_URL": postgres_server.url(name),
        "KAPU_SECRET_KEY": "one-secret-for-the-whole-deployment",
        "KAPU_SMTP_HOST": "127.0.0.1",
        "KAPU_SMTP_PORT": str(smtp.port),
        "KAPU_LANGUAGE": "en",
        "KAPU_DATA_DIR": str(tmp_path),
        "KAPU_WORKERS": "2",  # two servers of two pre-forked workers each: four processes on one database
        "KAPU_BASE_URL": proxy.url,  # the one public address, in every mail
        "KAPU_TRUSTED_PROXIES": PROXY_ADDRESS,
    }
    servers = [KapuServer(env, port) for port in ports]
    try:
        proxy.start()
        for server in servers:
            server.wait_until_ready()
        yield proxy, servers
    finally:
        proxy.close()
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


def served_by(proxy, request_line):
    """The server (its port) that answered each request with *request_line*, in order, from nginx's access log."""
    pattern = re.compile(rf'"{re.escape(request_line)} HTTP/1.1" \d+ upstream=127\.0\.0\.1:(\d+)$')
    return [int(m.group(1)) for line in proxy.access_log().splitlines() if (m := pattern.search(line))]


def test_citizens_behind_one_proxy_register_on_one_server_activate_on_the_other_every_mail_once(deployment, smtp):
    proxy, servers = deployment
    addresses = [f"polgar{i}@example.hu" for i in range(CITIZENS)]
    for i, address in enumerate(addresses):
        browser = Browser(proxy.url, proxy.certificate)
        assert browser.get("/")[0] == 200  # a citizen arrives on the home page first
        status, page = browser.post_form(
            "/register", {"username": f"polgar.{i}", "full_name": "Teszt Polgár", "email": address}
        )
        assert status == 200, page[-2000:]
    assert wait_for(lambda: all(mails_to(smtp, address) for address in addresses)), "a mail never arrived"

    for i, address in enumerate(addresses):
        mail = mails_to(smtp, address)[0]["message"].get_body(("plain",)).get_content()
        browser = Browser(proxy.url, proxy.certificate)
        fields = {"username": f"polgar.{i}", "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD}
        if i % 2 == 0:  # the mailed link: its code arrives filled in on the form
            link = LINK.search(mail).group(0)
            assert link.startswith(proxy.url + "/activate/")
            status, page = browser.get(link[len(proxy.url) :])
            assert status == 200 and CODE.search(mail).group(1) in page
            fields["code"] = re.search(r'<input[^>]*name="code"[^>]*value="([^"]*)"', page).group(1)
        else:
            fields["code"] = CODE.search(mail).group(1)
            page = None
        status, page = browser.post_form("/activate", fields, page)
        assert status == 200, page[-2000:]
        # The same code used again: refused, whichever server answers.
        again, _ = Browser(proxy.url, proxy.certificate).post_form("/activate", fields)
        assert again >= 400

    registered_on = served_by(proxy, "POST /register")
    activated_on = served_by(proxy, "POST /activate")[::2]  # every second one is the refused second use
    assert len(registered_on) == len(activated_on) == CITIZENS
    ports = {int(server.url.rsplit(":", 1)[1]) for server in servers}
    assert set(registered_on) == set(activated_on) == ports  # both servers registered and activated citizens
    assert any(r != a for r, a in zip(registered_on, activated_on, strict=True))  # register here, activate there
    for server in servers:
        # Kapu's own access lines: the requests came through the trusted proxy, the citizen's address is known.
        access = re.compile(rf"POST /(register|activate) 200 \S+ms client={re.escape(CITIZEN_ADDRESS)} ")
        assert access.search(server.whole_output()), server.output()
    # The mailed links were answered before Flask (opened_links.py) through the proxy, at the citizen's address.
    opened = re.compile(rf"GET /activate/<token> 303 \S+ms client={re.escape(CITIZEN_ADDRESS)} ")
    assert sum(len(opened.findall(server.whole_output())) for server in servers) == len(addresses[::2])

    # Monitoring: through the proxy /metrics does not exist and /readyz tells nothing of the set-up; a scrape on
    # the machine itself (loopback, no proxy) reads the metrics.
    citizen = Browser(proxy.url, proxy.certificate)
    with pytest.raises(urllib.error.HTTPError) as refused:
        citizen.get("/metrics")
    refused.value.close()  # the error holds the connection open
    assert refused.value.code == 404
    status, body = citizen.get("/readyz")
    assert status == 200 and "127.0.0.1" not in body and str(smtp.port) not in body and "postgres" not in body
    for server in servers:
        status, text = Browser(server.url).get("/metrics")
        assert status == 200 and "kapu_http_requests_total" in text

    time.sleep(3)  # both delivery loops have run several more rounds: nothing is sent twice
    for address in addresses:
        assert len(mails_to(smtp, address)) == 1, f"{address} got {len(mails_to(smtp, address))} mails"
    assert len(mails_to(smtp, "demo@example.hu")) <= 1  # a demo seeded on the empty database, by one server
    message_ids = [mail["message"]["Message-ID"] for mail in smtp.received]
    assert len(message_ids) == len(set(message_ids))
    assert all(server.process.poll() is None for server in servers)
