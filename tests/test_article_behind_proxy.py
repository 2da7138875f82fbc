"""A help article as long as the editor allows is saved through the README's own nginx configuration.

Kapu takes the editor's large body (tests/test_desk_admin_input.py), but a proxy in front with a smaller
`client_max_body_size` would still answer 413 and the admin's text would be lost. The README's nginx block is
run as written (only addresses, certificate paths and the Host header's port adapted to a test) in front of
`serve`, and every other path keeps the small cap.
"""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest

from forms.desk import ARTICLE_BODY_MAX, ArticleForm
from tests.served import ROOT, ServedKapu, clean_environment, wait_for
from tests.smtp_server import free_port
from tests.support.helpers import STAFF_PASSWORD
from tests.support.tls_proxy import NGINX, require_nginx, write_self_signed_certificate

pytestmark = pytest.mark.slow  # starts `serve` and nginx as processes

WRAPPER = """\
daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/temp/body;
    proxy_temp_path {root}/temp/proxy;
    fastcgi_temp_path {root}/temp/fastcgi;
    uwsgi_temp_path {root}/temp/uwsgi;
    scgi_temp_path {root}/temp/scgi;
{server}
}}
"""


def readme_https_server(port, upstream, root):
    """The README's https server block, pointed at this test's port, certificate and Kapu."""
    block = re.search(r"```nginx\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    server = "server {" + block.split("server {")[1]  # the https server; the port-80 redirect is left out
    replacements = [
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("listen [::]:443 ssl;", ""),
        ("http2 on;", ""),  # nginx 1.25.1 or later only (Debian 12 ships 1.22)
        ("/etc/letsencrypt/live/kapu.example.hu/fullchain.pem", str(root / "cert.pem")),
        ("/etc/letsencrypt/live/kapu.example.hu/privkey.pem", str(root / "key.pem")),
        # On 443 the Host carries no port; on a test port it must, or the CSRF Referer check cannot match.
        ("proxy_set_header Host $host;", "proxy_set_header Host $http_host;"),
        ("http://127.0.0.1:5000", f"http://127.0.0.1:{upstream}"),
    ]
    for old, new in replacements:
        assert old in server, f"the README's nginx block changed: {old!r} is gone"
        server = server.replace(old, new)
    return server


class HttpsClient:
    """Cookies, the self-signed certificate trusted, the CSRF token of the last form seen; no redirects followed."""

    def __init__(self, base, cafile):
        self.base = base
        context = ssl.create_default_context(cafile=str(cafile))

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect
        )
        self.token = None

    def request(self, path, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"Referer": self.base + path} if data is not None else {}
        try:
            with self.opener.open(
                urllib.request.Request(self.base + path, data=body, headers=headers), timeout=60
            ) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text)
        self.token = found.group(1) if found else self.token
        return status, text

    def post(self, path, **fields):
        return self.request(path, {"csrf_token": self.token, **fields})


@pytest.fixture
def proxied_kapu(tmp_path):
    require_nginx()
    port = free_port()
    env = clean_environment(
        KAPU_DATABASE_URL=f"sqlite:///{tmp_path / 'kapu.db'}",
        KAPU_SECRET_KEY="article-behind-proxy-secret-key",
        KAPU_BASE_URL=f"https://127.0.0.1:{port}",
        KAPU_TRUSTED_PROXIES="127.0.0.1",
        KAPU_WORKERS="1",
    )
    added = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "staff", "add", "--username", "admin.one", "--role", "admin"]
        + ["--password", STAFF_PASSWORD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    server = ServedKapu(tmp_path, env).wait_ready()
    nginx_root = tmp_path / "nginx"
    (nginx_root / "temp").mkdir(parents=True)
    write_self_signed_certificate(nginx_root / "cert.pem", nginx_root / "key.pem")
    config = nginx_root / "nginx.conf"
    config.write_text(WRAPPER.format(root=nginx_root, server=readme_https_server(port, server.port, nginx_root)))
    nginx = subprocess.Popen(
        [str(NGINX), "-p", str(nginx_root), "-c", str(config), "-e", str(nginx_root / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = HttpsClient(f"https://127.0.0.1:{port}", nginx_root / "cert.pem")
        assert wait_for(lambda: _answers(client), timeout=10), (nginx_root / "error.log").read_text()
        yield client
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=5)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=5)
        assert server.terminate() == 0


def _answers(client):
    try:
        return client.request("/login")[0] == 200
    except OSError:
        return False


def test_an_article_at_the_editors_cap_passes_the_readme_proxy_and_other_paths_keep_the_small_cap(proxied_kapu):
    client = proxied_kapu
    assert client.post("/login", username="admin.one", password=STAFF_PASSWORD)[0] == 303
    assert client.request("/desk/help/activation")[0] == 200
    # Characters of four UTF-8 bytes, each %XX-encoded: the largest body the editor's two fields can make.
    body_hu, body_en = "𝔸" * (ARTICLE_BODY_MAX - 4) + "VÉGE", "𝔸" * (ARTICLE_BODY_MAX - 3) + "END"
    fields = {"title_hu": "Aktiválás", "title_en": "Activation", "body_hu": body_hu, "body_en": body_en}
    fields |= {"source": "Kapu", "action": "save"}
    size = len(urllib.parse.urlencode({"csrf_token": client.token, **fields}))
    assert 1024 * 1024 < size <= ArticleForm.MAX_REQUEST_BYTES  # above nginx's default 1 MiB, within Kapu's cap
    status, page = client.post("/desk/help/activation", **fields)
    assert status == 303, page[:300]
    status, page = client.request("/help/activation?lang=hu")
    assert status == 200 and "VÉGE" in page
    # The login form (like every other) still gets nginx's small cap.
    assert client.post("/login", username="admin.one", password="x" * 70_000)[0] == 413
