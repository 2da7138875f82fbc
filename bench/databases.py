"""Database benchmark: activation and login on SQLite and on PostgreSQL, with 1,000 and with 1,000,000 accounts.

Run with `make bench` (or `python bench/databases.py [--accounts N] [--databases sqlite,postgresql]`). The
domain functions are called directly (no HTTP) with a cheap argon2 profile, so what is measured is the
database's share; production argon2 adds its fixed cost to both sizes alike. The large table is seeded by one
INSERT ... SELECT in the database itself, not through the web. Loopback only, bounded in count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from tempfile import mkdtemp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from argon2 import PasswordHasher  # noqa: E402

import db  # noqa: E402
from app import create_app  # noqa: E402
from domain import accounts, activation  # noqa: E402
from models import Account, OneTimeCode  # noqa: E402
from tests.postgres_server import PostgresServer, server_binaries  # noqa: E402

SAMPLES = 200
THREADS = 4
SMALL = 1_000
PASSWORD = "kerekes kút mellett áll a nyírfa"
CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ALLOWED_RATIO = 1.2


def make_app(url):
    unlimited = {k: "10000" for k in ("KAPU_CLIENT_POSTS_PER_MINUTE", "KAPU_CLIENT_WRONG_CODES_PER_HOUR",
                                       "KAPU_CODES_PER_ACCOUNT_PER_HOUR", "KAPU_CLIENT_MAILS_PER_HOUR")}
    return create_app({"KAPU_DATABASE_URL": url, "KAPU_SECRET_KEY": "bench-" * 6, "KAPU_SMTP_HOST": "",
                       "KAPU_BASE_URL": "http://127.0.0.1:5000", "PASSWORD_HASHER": CHEAP_ARGON2, **unlimited})


def seed_filler(database, total):
    """Bring the account table to *total* rows (pending, each with a live code), inside the database."""
    have = Account.select().count()
    missing = total - have
    if missing <= 0:
        return
    now = datetime(2026, 1, 1)
    columns, values, params = [], [], []
    generated = {"username": "'filler.' || n", "display_username": "'filler.' || n",
                 "email": "'filler' || n || '@example.hu'", "full_name": "'Filler'"}
    for field in Account._meta.sorted_fields:
        if field.name == "id":
            continue
        columns.append(f'"{field.column_name}"')
        if field.name in generated:
            values.append(generated[field.name])
            continue
        value = now if field.name == "created_at" else (field.default() if callable(field.default) else field.default)
        values.append(database.param)
        params.append(value if value is not None or not field.null else None)
    # Only numbers and the driver's placeholder are formatted into these statements.
    recursive = f"WITH RECURSIVE seq(n) AS (SELECT {have + 1} UNION ALL SELECT n + 1 FROM seq WHERE n < {total}) "  # noqa: S608
    with database.atomic():
        database.execute_sql(
            f"INSERT INTO account ({', '.join(columns)}) {recursive}SELECT {', '.join(values)} FROM seq",  # noqa: S608
            params,
        )
        mark = database.param
        database.execute_sql(
            "INSERT INTO one_time_code (account_id, code_hash, purpose, created_at, expires_at, failed_attempts) "  # noqa: S608
            f"SELECT id, 'x', 'activation', {mark}, {mark}, 0 FROM account "
            f"WHERE username LIKE {mark} AND id > {mark}",
            (now, datetime(2100, 1, 1), "filler.%", _max_code_account()),
        )
    # Fresh statistics, and the big insert's vacuum done now rather than by autovacuum during the measurement.
    database.execute_sql("VACUUM ANALYZE" if db.is_postgres(database) else "ANALYZE")


def _max_code_account():
    return OneTimeCode.select(OneTimeCode.account).order_by(OneTimeCode.account.desc()).scalar() or 0


def pending_citizens(app, prefix, count):
    """*count* pending accounts registered as an office would, with the codes their mail carries."""
    kapu = app.extensions["kapu"]
    found = []
    with app.test_request_context():
        for i in range(count):
            result = accounts.register(kapu, username=f"{prefix}.{i}", full_name="Bench", language="hu",
                                       email=f"{prefix}.{i}@example.hu", channel="office")
            found.append((f"{prefix}.{i}", result.link.rsplit("/", 1)[1]))
    codes = []
    for username, token in found:
        data = kapu.activation_links.check(token).data
        codes.append((username, data["k"]))
    return codes


def latencies(app, work, items):
    samples = []
    with app.app_context():
        for item in items:
            start = time.perf_counter()
            work(item)
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def throughput(app, work, items):
    """Operations per second with THREADS workers (each its own connection)."""
    chunks = [items[i::THREADS] for i in range(THREADS)]

    def run(chunk):
        with app.app_context():
            for item in chunk:
                work(item)

    threads = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(items) / (time.perf_counter() - start)


def measure(app, size, label):
    kapu = app.extensions["kapu"]
    seed_filler(app.extensions["kapu_database"], size)

    def activate(item):
        outcome = activation.activate(kapu, item[0], item[1], PASSWORD)
        assert outcome is activation.Outcome.ACTIVATED, outcome

    def log_in(item):
        assert accounts.authenticate(kapu, item[0], PASSWORD) is not None

    timed = pending_citizens(app, f"p50.{size}", SAMPLES)
    activation_p50 = latencies(app, activate, timed)
    login_p50 = latencies(app, log_in, timed)
    parallel = pending_citizens(app, f"tp.{size}", SAMPLES)
    activations_per_s = throughput(app, activate, parallel)
    logins_per_s = throughput(app, log_in, parallel)
    total = Account.select().count()
    print(f"{label:<11} {total:>9,} accounts   activation p50 {activation_p50:6.2f} ms  {activations_per_s:6.0f}/s"
          f"   login p50 {login_p50:6.2f} ms  {logins_per_s:6.0f}/s ({THREADS} threads)", flush=True)
    return activation_p50, login_p50


def bench(label, url, large):
    app = make_app(url)
    with app.app_context():
        small = measure(app, SMALL, label)
        big = measure(app, large, label)
    ok = True
    for name, before, after in zip(("activation", "login"), small, big, strict=True):
        ratio = after / before
        verdict = "ok" if ratio <= ALLOWED_RATIO else f"OVER {ALLOWED_RATIO}x"
        ok = ok and ratio <= ALLOWED_RATIO
        print(f"{label:<11} {name} p50 at {large:,} / at {SMALL:,} accounts: {ratio:.2f}x  {verdict}")
    db.close_all(app.extensions["kapu_database"])
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    options = parser.parse_args()
    kinds = options.databases.split(",")
    ok = True
    if "sqlite" in kinds:
        ok &= bench("sqlite", f"sqlite:///{Path(mkdtemp(prefix='kapu-bench-')) / 'bench.db'}", options.accounts)
    if "postgresql" in kinds:
        binaries = server_binaries()
        if binaries is None:
            sys.exit("PostgreSQL server binaries are missing: install Debian's postgresql package")
        server = PostgresServer(binaries).start()
        try:
            ok &= bench("postgresql", server.url(server.create_database()), options.accounts)
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
