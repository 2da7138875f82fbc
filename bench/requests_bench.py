"""Request-path benchmark: latency of Kapu's hot paths over real HTTP on loopback (waitress, SQLite).

Run with `make bench`. Bounded: a fixed number of requests per path, loopback only. It also measures
what `synchronous=FULL` costs an activation compared with `NORMAL` (the durability trade-off).
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import waitress  # noqa: E402

from app import create_app  # noqa: E402
from domain import registration  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402

ROUNDS = 200
PASSWORD = "kerekes kút mellett áll a nyírfa"


class Browser:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = None

    def get(self, path):
        with self.opener.open(self.base + path) as response:
            body = response.read().decode()
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
        self.token = found.group(1) if found else self.token
        return body

    def post(self, path, data, headers=None):
        request = urllib.request.Request(
            self.base + path,
            data=urllib.parse.urlencode(data).encode(),
            headers={"X-CSRFToken": self.token, **(headers or {})},
        )
        try:
            with self.opener.open(request) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


def timed(label, action, rounds=ROUNDS):
    action()  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{label:<46} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   (n={rounds})")


def main():
    folder = Path(tempfile.mkdtemp(prefix="kapu-bench-"))
    port = free_port()
    limits = {
        k: "10000"
        for k in (
            "KAPU_CLIENT_POSTS_PER_MINUTE",
            "KAPU_CLIENT_WRONG_CODES_PER_HOUR",
            "KAPU_CODES_PER_ACCOUNT_PER_HOUR",
            "KAPU_CLIENT_MAILS_PER_HOUR",
        )
    }
    app = create_app(
        {
            "KAPU_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "KAPU_SECRET_KEY": "b" * 32,
            "KAPU_BASE_URL": f"http://127.0.0.1:{port}",
            "KAPU_SMTP_HOST": "",
            "KAPU_CODE_MAX_ATTEMPTS": "1000",
            **limits,
        }
    )
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    kapu = app.extensions["kapu"]
    with app.test_request_context():
        links = [
            registration.register(
                kapu,
                username=f"bench.{i}",
                full_name="Bench",
                email=f"b{i}@example.hu",
                language="hu",
                channel="office",
            ).link
            for i in range(ROUNDS + 1)
        ]
    browser = Browser(f"http://127.0.0.1:{port}")
    browser.get("/activate")
    token_path = urllib.parse.urlsplit(links[0]).path
    timed("GET /", lambda: browser.get("/"))
    timed("GET /activate", lambda: browser.get("/activate"))
    timed("GET /activate/<token>", lambda: browser.get(token_path))
    timed(
        "POST /activate/check/password (zxcvbn)",
        lambda: browser.post("/activate/check/password", {"username": "bench.1", "password": PASSWORD}),
    )
    timed(
        "POST /activate (wrong code, no hashing)",
        lambda: browser.post(
            "/activate",
            {
                "csrf_token": browser.token,
                "username": "bench.1",
                "code": "ABCDE-23456",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        ),
    )
    timed(
        "POST /forgotten-password (miss)",
        lambda: browser.post(
            "/forgotten-password", {"csrf_token": browser.token, "username": "nobody", "email": "n@example.hu"}
        ),
    )
    codes = iter(range(1, ROUNDS + 1))

    def activate_next():
        index = next(codes)
        code = kapu.activation_links.read(links[index].rsplit("/", 1)[1]).data.code  # the mailed link's code
        status = browser.post(
            "/activate",
            {
                "csrf_token": browser.token,
                "username": f"bench.{index}",
                "code": code,
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        assert status == 200, status

    timed("POST /activate (success: argon2id + commit)", activate_next, rounds=ROUNDS - 1)
    time.sleep(0.5)  # let the last channel finish before the sockets close
    server.close()
    synchronous_cost(folder)


def synchronous_cost(folder):
    """What FULL costs per committed write transaction compared with NORMAL, on this disk."""
    for mode in ("NORMAL", "FULL"):
        path = folder / f"sync-{mode}.db"
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={mode}")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        samples = []
        for i in range(ROUNDS):
            start = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t (v) VALUES (?)", (str(i) * 50,))
            connection.execute("COMMIT")
            samples.append((time.perf_counter() - start) * 1000)
        connection.close()
        print(f"{'commit, WAL, synchronous=' + mode:<46} median {statistics.median(samples):7.3f} ms")


if __name__ == "__main__":
    main()
