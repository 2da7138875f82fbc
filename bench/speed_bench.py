"""Kapu's hot paths against a bare Flask app, under the same server, loaded the same way, in one run.

Run with `make bench` (a benchmark: it reports, it does not fail on a slow machine). Both apps run under gunicorn
with `serve`'s settings (2 workers, its thread worker on SQLite, threads taking turns: turns.py); wrk loads each
endpoint with 16 connections for BENCH_SECONDS (default 10) in BENCH_ROUNDS (default 3) interleaved rounds. In each
round every Kapu endpoint is loaded right after a run of its baseline and compared with that run, so drift in the
machine's speed (the bare app's own rate moved by 20% between runs) hits both alike. Every request comes from
another address (X-Forwarded-For through a trusted proxy, as a wave of citizens would), so Kapu's per-client limits
count as they would in production and never refuse.
It reports, as ratios to the baseline in the same run:
1. GET /activate and GET /activate/<token> against a static 2 KB page (goal >= 0.35x);
2. the live checks (password_confirm, password with a 28-character passphrase, code) against a tiny POST
   partial (goal >= 0.8x, p99 < 20 ms), and the password check with another password each time (the same
   visitor's verdict on the passphrase is remembered; this one is zxcvbn's every time);
3. the activation page's weight on the wire with everything it loads (goal <= 30 KB, no third-party request),
   and how its static files are cached;
4. cold start of `flask --app app serve` to its first answer (goal < 1 s) and resident memory per worker
   (goal < 80 MB).
Needs wrk (Debian: `apt-get install wrk`); without it, parts 1-2 are skipped with a note.
5. The same requests in-process (Flask's test client), as CPU seconds of this process per request: what the
   server must spend, unaffected by how busy the machine's other processes keep the cores (a commit's wait for
   the disk is not CPU time, so the live checks' rate-limit write counts only its CPU share here).
"""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serving import THREADS_PER_WORKER  # noqa: E402
from tests.served import clean_environment, mailed_link_path  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 16
PASSPHRASE = "kék ég alatt fut a kis vonat"  # 28 characters
GUNICORN = [
    "--workers",
    "2",
    "--worker-class",
    "turn_worker.TurnTakingWorker",
    "--threads",
    str(THREADS_PER_WORKER),
    "--keep-alive",
    "5",
    "--log-level",
    "warning",
]
TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
LUA = """
wrk.method = "{method}"
wrk.body = "{body}"
{headers}
local n = 0
{prelude}
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), n % 256)
  {per_request}
  return wrk.format(nil, "{path}")
end
"""
# Kapu remembers zxcvbn's verdict on what it saw of a visitor's password (domain.passwords.RememberedVerdicts):
# the bench's one visitor sending one passphrase is answered from it. "Another password" cases send the
# passphrase with five letters in place of its first word, another at every request, so none is remembered.
LETTERS_LUA = """
local start = {start}
local function letters(k)
  local s = ""
  for i = 1, 5 do
    s = s .. string.char(97 + k % 26)
    k = math.floor(k / 26)
  end
  return s
end
"""
ANOTHER_PASSWORD = "another"


def another_password(n):
    """The bench's passphrase with five letters in place of its first word, the *n*th such."""
    return "".join(chr(97 + n // 26**i % 26) for i in range(5)) + PASSPHRASE[3:]


def kapu_environment(folder, port):
    return clean_environment(
        KAPU_DATABASE_URL=f"sqlite:///{folder / 'kapu.db'}",
        KAPU_DATA_DIR=folder,
        KAPU_SECRET_KEY="b" * 32,
        KAPU_BASE_URL=f"http://127.0.0.1:{port}",
        KAPU_SMTP_HOST="",
        KAPU_TRUSTED_PROXIES="127.0.0.1",
    )


class Gunicorn:
    """One app under gunicorn with `serve`'s settings; its output goes to a file."""

    def __init__(self, folder, name, target, env):
        self.port = free_port()
        self.log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        env = {**env, "KAPU_BASE_URL": f"http://127.0.0.1:{self.port}"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *GUNICORN,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--chdir",
                str(ROOT),
                target,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_answer(self.port, "/", self.process)

    def workers(self):
        return [
            int(pid) for pid in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        ]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def wait_for_answer(port, path, process, timeout=60.0):
    """Seconds until *port* answers *path* with any status below 500."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            if status < 500:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.005)
    raise SystemExit(f"the server on port {port} did not answer within {timeout} s")


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def wrk(folder, port, method, path, body="", headers=None):
    """(requests per second, p99 in ms, non-2xx/3xx answers) of one wrk run."""
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    prelude = per_request = ""
    if body == ANOTHER_PASSWORD:
        prelude = LETTERS_LUA.format(start=random.randrange(26**5))  # another start for every run
        rest = urllib.parse.quote_plus(PASSPHRASE[3:])
        body, per_request = "", f'wrk.body = "username=bench.1&password=" .. letters(start + n) .. "{rest}"'
    script = folder / "load.lua"
    script.write_text(
        LUA.format(method=method, body=body, headers=lines, path=path, prelude=prelude, per_request=per_request)
    )
    output = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)  # the distribution's line, not a "xx.99%"
    p99 = _milliseconds(latency.group(1)) if latency else float("nan")
    if p99 != p99:  # NaN: say what wrk said
        print(output, file=sys.stderr)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failures = re.search(r"Socket errors: .*", output)
    return rate, p99, int(errors.group(1)) if errors else 0, failures.group(0) if failures else ""


def _milliseconds(text):
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:  # wrk printed no latency (no request finished)
        return float("nan")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def visitor(port):
    """A visitor's session cookie and CSRF token, as the activation page hands them out."""
    response, body = get(port, "/activate")
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    return cookie, TOKEN.search(body.decode()).group(1)


def load(folder, base, kapu, link_path):
    cookie, token = visitor(kapu.port)
    post = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie,
        "X-CSRFToken": token,
        "HX-Request": "true",
    }
    passphrase = urllib.parse.quote_plus(PASSPHRASE)
    cases = [
        ("baseline: GET static 2 KB page", base, "GET", "/page", "", None, None),
        (
            "baseline: POST tiny partial",
            base,
            "POST",
            "/partial",
            f"value={passphrase}",
            {"Content-Type": "application/x-www-form-urlencoded"},
            None,
        ),
        ("GET /activate", kapu, "GET", "/activate", "", None, 0),
        ("GET /activate/<token> (303 to the form)", kapu, "GET", link_path, "", None, 0),
        (
            "POST check password_confirm",
            kapu,
            "POST",
            "/activate/check/password_confirm",
            f"password={passphrase}&password_confirm={passphrase}",
            post,
            1,
        ),
        (
            "POST check password (28 characters)",
            kapu,
            "POST",
            "/activate/check/password",
            f"username=bench.1&password={passphrase}",
            post,
            1,
        ),
        (
            "POST check password (another each time)",
            kapu,
            "POST",
            "/activate/check/password",
            ANOTHER_PASSWORD,
            post,
            1,
        ),
        ("POST check code", kapu, "POST", "/activate/check/code", "code=ABCDE-23456", post, 1),
    ]
    results = {case[0]: [] for case in cases}
    paired = {case[0]: [] for case in cases}  # per Kapu endpoint, the rate of the baseline run just before it
    for round_number in range(1, ROUNDS + 1):
        for label, server, method, path, body, headers, baseline in cases:
            if baseline is None:
                continue  # a baseline runs right before each Kapu endpoint it is compared with
            base_label, base_server, base_method, base_path, base_body, base_headers, _ = cases[baseline]
            base = wrk(folder, base_server.port, base_method, base_path, base_body, base_headers)
            results[base_label].append(base)
            paired[label].append(base[0])
            results[label].append(wrk(folder, server.port, method, path, body, headers))
        print(f"  round {round_number}/{ROUNDS} done (load average {load_average()})", flush=True)
    goals = {0: 0.35, 1: 0.8}
    print(f"\n{'endpoint':<44}{'req/s':>9}{'p99 ms':>9}{'x base':>8}  goal")
    for label, _server, _method, _path, body, _headers, baseline in cases:
        rates = [r[0] for r in results[label]]
        p99 = statistics.median(r[1] for r in results[label])
        refused = sum(r[2] for r in results[label])
        line = f"{label:<44}{statistics.median(rates):>9.0f}{p99:>9.1f}"
        if baseline is not None:
            ratios = [k / b for k, b in zip(rates, paired[label], strict=True)]
            line += f"{statistics.median(ratios):>7.2f}x  "
            if body == ANOTHER_PASSWORD:
                line += "(every verdict zxcvbn's, none remembered)"
            else:
                line += f">= {goals[baseline]}x" + (" (p99 < 20 ms)" if baseline == 1 else "")
            line += f"  rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)}"
        if refused:
            line += f"  [{refused} non-2xx/3xx answers]"
        errors = {r[3] for r in results[label] if r[3]}
        if errors:
            line += f"  [{'; '.join(errors)}]"
        print(line)


def cpu_per_request(folder, env, link_path):
    """CPU milliseconds per request in-process, Kapu against the baseline app, interleaved in three rounds."""
    sys.path.insert(0, str(ROOT / "bench"))
    from flask_baseline import app as bare

    from app import create_app

    kapu = create_app({k: v for k, v in env.items() if k.startswith("KAPU_")})
    client = kapu.test_client()
    token = TOKEN.search(client.get("/activate").get_data(as_text=True)).group(1)
    addresses = iter(range(10**9))
    passwords = iter(range(random.randrange(26**5), 2 * 26**5))

    def headers():
        n = next(addresses)
        return {"X-CSRFToken": token, "X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}

    base = bare.test_client()
    cases = [
        ("baseline: GET static 2 KB page", lambda: base.get("/page"), None),
        ("baseline: POST tiny partial", lambda: base.post("/partial", data={"value": PASSPHRASE}), None),
        ("GET /activate (a new visitor)", lambda: kapu.test_client().get("/activate", headers=headers()), 0),
        ("GET /activate/<token>", lambda: kapu.test_client().get(link_path, headers=headers()), 0),
        (
            "POST check password_confirm",
            lambda: client.post(
                "/activate/check/password_confirm",
                headers=headers(),
                data={"password": PASSPHRASE, "password_confirm": PASSPHRASE},
            ),
            1,
        ),
        (
            "POST check password (28 characters)",
            lambda: client.post(
                "/activate/check/password", headers=headers(), data={"username": "bench.1", "password": PASSPHRASE}
            ),
            1,
        ),
        (
            "POST check password (another each time)",
            lambda: client.post(
                "/activate/check/password",
                headers=headers(),
                data={"username": "bench.1", "password": another_password(next(passwords))},
            ),
            1,
        ),
        (
            "POST check code",
            lambda: client.post("/activate/check/code", headers=headers(), data={"code": "ABCDE-23456"}),
            1,
        ),
    ]
    samples = {label: [] for label, _action, _baseline in cases}
    for _round in range(3):
        for label, action, _baseline in cases:
            action()
            start = time.process_time()
            for _ in range(200):
                action()
            samples[label].append((time.process_time() - start) / 200 * 1000)
    print(f"\nin-process CPU per request (median of 3 rounds x 200):\n{'request':<44}{'CPU ms':>9}{'x base':>8}")
    for label, _action, baseline in cases:
        line = f"{label:<44}{statistics.median(samples[label]):>9.3f}"
        if baseline is not None:
            base_label = cases[baseline][0]
            line += f"{statistics.median(samples[base_label]) / statistics.median(samples[label]):>7.2f}x"
        print(line)


def page_weight(port):
    """Bytes on the wire (compressed bodies) of the activation page and every file it loads."""
    headers = {"Accept-Encoding": "br, gzip"}
    response, body = get(port, "/activate", headers)
    html = body
    total = len(body)
    print(f"\nGET /activate: {len(body):,} bytes on the wire ({response.getheader('Content-Encoding') or 'identity'})")
    page = get(port, "/activate", {})[1].decode()
    urls = re.findall(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"', page)
    third_party = [u for u in urls if urllib.parse.urlsplit(u).netloc or u.startswith("//")]
    for url in urls:
        if url.startswith("data:") or url in third_party:
            continue
        response, body = get(port, url, headers)
        total += len(body)
        print(
            f"  {url}: {len(body):,} bytes ({response.getheader('Content-Encoding') or 'identity'}), "
            f"Cache-Control: {response.getheader('Cache-Control')}"
        )
    print(
        f"activation page with everything it loads: {total / 1024:.1f} KB on the wire (goal <= 30 KB); "
        f"third-party requests: {len(third_party)}"
    )
    return html


def cold_start(folder):
    """`flask --app app serve` from launch to its first answer, three times; the median and the workers' RSS."""
    times = []
    rss = []
    for attempt in range(3):
        data = folder / f"cold-{attempt}"
        data.mkdir()
        port = free_port()
        env = kapu_environment(data, port)
        env.update(KAPU_PORT=str(port), KAPU_WORKERS="2")
        if attempt == 0:
            shutil.copy(folder / "kapu.db", data / "kapu.db")  # an existing database, as after the first run
        with open(data / "serve.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                times.append(wait_for_answer(port, "/activate", process))
                time.sleep(1.0)  # both workers up
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
                rss.extend(resident_mb(int(pid)) for pid in children)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=40)
    print(
        f"\ncold start of `flask --app app serve` to the first answer: median {statistics.median(times):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)}; goal < 1 s)"
    )
    if rss:
        print(f"resident memory per serve worker just after start: max {max(rss):.0f} MB")


def resident_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    folder = Path(tempfile.mkdtemp(prefix="kapu-speed-"))
    print(
        f"speed against bare Flask: {os.cpu_count()} cores, load average {load_average()}, "
        f"{ROUNDS} rounds x {SECONDS} s, {CONNECTIONS} connections, gunicorn {' '.join(GUNICORN[:6])}"
    )
    env = kapu_environment(folder, 0)
    link_path = mailed_link_path(env, "bench.1", "b@example.hu")  # on the database Kapu's gunicorn serves
    base = Gunicorn(folder, "baseline", "bench.flask_baseline:served()", clean_environment())
    kapu = Gunicorn(folder, "kapu", "serving:create_worker_app()", env)
    try:
        if shutil.which("wrk"):
            load(folder, base, kapu, link_path)
        else:
            print("wrk not found: the load part needs it (Debian: apt-get install wrk); skipped.")
        print(
            f"resident memory per Kapu worker after the load: "
            f"{', '.join(f'{resident_mb(pid):.0f} MB' for pid in kapu.workers())} (goal < 80 MB)"
        )
        page_weight(kapu.port)
    finally:
        base.stop()
        kapu.stop()
    cpu_per_request(folder, env, link_path)
    cold_start(folder)
    print(f"load average at the end: {load_average()}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
