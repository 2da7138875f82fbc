"""Production-path benchmark: `serve` (gunicorn, one worker per core) under concurrent load, production argon2.

Run with `make bench` (a benchmark, not a test: it reports, it does not fail on a slow machine). Bounded: fixed
request counts and durations, loopback only, pure Python clients (threads with http.client). It reports:
1. 40 concurrent activations, then 40 concurrent logins with the new passwords: 5xx count, accounts usable;
2. forgotten-password POST latency (p50/p99) while 16 clients log in back to back (goal p99 < 100 ms);
3. logins per second in that phase against 0.8 x (cores / one argon2 verify);
4. GET /activate under `serve` against the same app under a fixed 2-worker gunicorn (sync workers), alternating.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


import speed_bench  # noqa: E402  (bench/ is on the path when run as a script)

from app import create_app  # noqa: E402
from domain import outbox, passwords, registration  # noqa: E402
from models import OutboxMessage  # noqa: E402
from tests.served import CODE, ServedKapu, clean_environment  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402

WRK_FOLDER = Path(tempfile.mkdtemp(prefix="kapu-serve-bench-wrk-"))

PASSWORD = "kerekes kút mellett áll a nyírfa"
PEOPLE = 40
LOGIN_CLIENTS = 16
LOGIN_PHASE_SECONDS = 12
GET_REQUESTS = 1500
GET_CLIENTS = 16
CLIENT_TIMEOUT = 180  # seconds; a request still unanswered then counts as "0"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Client:
    """One visitor: its own connection and cookies, the last CSRF token it was given."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.token = None
        self.connection = None

    def request(self, method, path, form=None):
        body = urllib.parse.urlencode({"csrf_token": self.token, **form}).encode() if form is not None else None
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode()
                break
            except TimeoutError:
                self.connection.close()
                self.connection = None
                return 0  # reported as "0" (no answer within the client's timeout)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None  # a closed keep-alive connection: once more on a new one
                if attempt == 2:
                    raise
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        found = TOKEN.search(text)
        self.token = found.group(1) if found else self.token
        return response.status

    def close(self):
        if self.connection is not None:
            self.connection.close()


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def one_argon2_verify_seconds():
    hasher = passwords.new_hasher()  # what serve hashes with (argon2id, 64 MiB, t=3, one lane)
    stored = hasher.hash(PASSWORD)
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def argon2_ceiling_per_second(cores):
    """Verifies per second with one argon2 verify running on every core and nothing else: how many logins a second
    this machine could do at best (its cores may share memory bandwidth and caches, so each verify is slower then)."""
    hasher = passwords.new_hasher()
    stored = hasher.hash(PASSWORD)
    rounds = 4

    def verify_repeatedly(_index):
        for _ in range(rounds):
            hasher.verify(stored, PASSWORD)

    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(verify_repeatedly, range(cores)))
    return cores * rounds / (time.perf_counter() - start)


def seed_pending_accounts(database_url, env):
    """40 pending registrations made at an office; their codes read from the (sealed) mail as a citizen would."""
    app = create_app({k: v for k, v in env.items() if k.startswith("KAPU_")} | {"KAPU_DATABASE_URL": database_url})
    kapu = app.extensions["kapu"]
    codes = {}
    with app.test_request_context():
        for i in range(PEOPLE):
            result = registration.register(
                kapu,
                username=f"bench.{i}",
                full_name="Bench Elek",
                email=f"bench{i}@example.hu",
                language="hu",
                channel="office",
            )
            message = OutboxMessage.select().where(OutboxMessage.account == result.account.id).get()
            codes[f"bench.{i}"] = CODE.search(outbox.unseal(kapu, message)["text"]).group(1)
    app.extensions["kapu_database"].close()
    return codes


def concurrently(count, action):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(action, range(count)))


def activations_then_logins(port, codes):
    names = sorted(codes)

    def activate(index):
        client = Client(port)
        client.request("GET", "/activate")
        status = client.request(
            "POST",
            "/activate",
            {"username": names[index], "code": codes[names[index]], "password": PASSWORD, "password_confirm": PASSWORD},
        )
        client.close()
        return status

    def log_in(index):
        client = Client(port)
        client.request("GET", "/login")
        status = client.request("POST", "/login", {"username": names[index], "password": PASSWORD})
        client.close()
        return status

    start = time.perf_counter()
    activated = concurrently(PEOPLE, activate)
    middle = time.perf_counter()
    logged_in = concurrently(PEOPLE, log_in)
    end = time.perf_counter()
    print(
        f"1. {PEOPLE} concurrent activations: {_tally(activated)} in {middle - start:.1f} s; "
        f"then {PEOPLE} concurrent logins: {_tally(logged_in)} in {end - middle:.1f} s"
    )
    usable = sum(1 for status in logged_in if status == 303)
    fives = sum(1 for status in activated + logged_in if status >= 500)
    print(f"   5xx answers: {fives}; accounts usable (activated, then logged in): {usable} of {PEOPLE}")
    return names


def _tally(statuses):
    counts = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{count}x {status}" for status, count in sorted(counts.items()))


def forgotten_password_during_logins(port, names, verify_seconds):
    stop = threading.Event()
    logins = []
    failures = []

    def keep_logging_in(index):
        client = Client(port)
        client.request("GET", "/login")
        while not stop.is_set():
            status = client.request("POST", "/login", {"username": names[index], "password": PASSWORD})
            (logins if status == 303 else failures).append(status)
            client.cookies.clear()
            client.request("GET", "/login")  # a fresh session and token, as the next visitor would have
        client.close()

    threads = [threading.Thread(target=keep_logging_in, args=(i,)) for i in range(LOGIN_CLIENTS)]
    prober = Client(port)
    prober.request("GET", "/forgotten-password")
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the logins are under way
    start = time.perf_counter()
    counted_from = len(logins)
    samples = []
    while time.perf_counter() - start < LOGIN_PHASE_SECONDS:
        began = time.perf_counter()
        status = prober.request("POST", "/forgotten-password", {"username": "senki.sem", "email": "senki@example.hu"})
        samples.append((time.perf_counter() - began) * 1000)
        if status != 200:
            failures.append(status)
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    rate = (len(logins) - counted_from) / elapsed
    stop.set()
    for thread in threads:
        thread.join()
    prober.close()
    print(
        f"2. forgotten-password POST during {LOGIN_CLIENTS} concurrent logins: "
        f"p50 {percentile(samples, 0.5):.0f} ms, p99 {percentile(samples, 0.99):.0f} ms, "
        f"max {max(samples):.0f} ms (n={len(samples)}; goal p99 < 100 ms)"
    )
    cores = len(os.sched_getaffinity(0))
    goal = 0.8 * cores / verify_seconds
    print(
        f"3. logins per second: {rate:.1f} (one argon2 verify {verify_seconds * 1000:.0f} ms, {cores} cores: "
        f"goal >= 0.8 x {cores} / {verify_seconds:.3f} s = {goal:.1f}); non-success answers: {_tally(failures) or 0}"
    )
    ceiling = argon2_ceiling_per_second(cores)
    print(
        f"   argon2 alone, {cores} verifies at once and nothing else: {ceiling:.1f}/s; "
        f"the logins reached {rate / ceiling:.0%} of that"
    )


def get_activate_load(port):
    """GET /activate from 16 connections for a fixed time: wrk (a C client, so the load generator takes little of
    the two cores) when installed, else 16 Python threads with a new connection per request."""
    if shutil.which("wrk"):
        rate, p99, failed, socket_errors = speed_bench.wrk(WRK_FOLDER, port, "GET", "/activate")
        assert failed == 0, f"{failed} answers were not 2xx/3xx ({socket_errors})"
        return rate, p99
    latencies = []
    per_client = GET_REQUESTS // GET_CLIENTS

    def load(_index):
        for _ in range(per_client):
            began = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/activate")
            response = connection.getresponse()
            response.read()
            connection.close()
            assert response.status == 200, response.status
            latencies.append((time.perf_counter() - began) * 1000)

    start = time.perf_counter()
    concurrently(GET_CLIENTS, load)
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, percentile(latencies, 0.99)


def wait_until_answering(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/activate")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer")


def serve_against_fixed_gunicorn(folder, env):
    """Alternate the two servers three times so background load hits both alike."""
    results = {"serve": [], "gunicorn -w 2": []}
    for _round in range(3):
        served = ServedKapu(folder, env)
        try:
            wait_until_answering(served.port, served.process)
            results["serve"].append(get_activate_load(served.port))
        finally:
            served.terminate()
        port = free_port()
        fixed = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--log-level",
                "warning",
                "app:create_app()",
            ],
            cwd=ROOT,
            env={**env, "KAPU_BASE_URL": f"http://127.0.0.1:{port}"},
        )
        try:
            wait_until_answering(port, fixed)
            results["gunicorn -w 2"].append(get_activate_load(port))
        finally:
            fixed.terminate()
            fixed.wait(timeout=60)
    how = (
        f"wrk, {speed_bench.CONNECTIONS} connections, {speed_bench.SECONDS} s"
        if shutil.which("wrk")
        else (f"{GET_CLIENTS} Python clients, {GET_REQUESTS} requests")
    )
    print(f"4. GET /activate ({how} per run), three alternating runs each:")
    for name, runs in results.items():
        shown = "; ".join(f"{rate:.0f} req/s, p99 {p99:.0f} ms" for rate, p99 in runs)
        print(f"   {name:<14} {shown}   (median {statistics.median(r for r, _ in runs):.0f} req/s)")
    ratio = statistics.median(r for r, _ in results["serve"]) / statistics.median(
        r for r, _ in results["gunicorn -w 2"]
    )
    print(f"   serve / gunicorn -w 2 (medians): {ratio:.2f}x (goal: not slower, >= 1.0x)")


def main():
    folder = Path(tempfile.mkdtemp(prefix="kapu-serve-bench-"))
    database_url = f"sqlite:///{folder / 'bench.db'}"
    limits = {
        k: "10000"
        for k in (
            "KAPU_CLIENT_POSTS_PER_MINUTE",
            "KAPU_CLIENT_WRONG_CODES_PER_HOUR",
            "KAPU_CODES_PER_ACCOUNT_PER_HOUR",
            "KAPU_CLIENT_MAILS_PER_HOUR",
        )
    }
    env = clean_environment(
        KAPU_DATABASE_URL=database_url,
        KAPU_SECRET_KEY="bench-secret-key-long-enough-000",
        KAPU_LOGIN_MAX_FAILURES="100",
        **limits,
    )
    verify_seconds = one_argon2_verify_seconds()
    codes = seed_pending_accounts(database_url, env)
    served = ServedKapu(folder, env)
    try:
        wait_until_answering(served.port, served.process)
        print(f"serve: {served.stdout.strip()}; load average before the run: {os.getloadavg()[0]:.1f}")
        names = activations_then_logins(served.port, codes)
        forgotten_password_during_logins(served.port, names, verify_seconds)
    finally:
        served.terminate()
    serve_against_fixed_gunicorn(folder, env)


if __name__ == "__main__":
    main()
