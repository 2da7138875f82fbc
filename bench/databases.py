"""Database benchmark: activation and login on SQLite and on PostgreSQL, with 1,000 and with 1,000,000 accounts.

Run with `make bench` (or `python bench/databases.py [--accounts N] [--databases sqlite,postgresql]`). The
domain functions are called directly (no HTTP) with one cheap argon2 profile for both sizes, so what is measured
is the database's share; production argon2 adds its fixed cost to both alike. The large table is seeded by one
INSERT ... SELECT in the database itself, not through the web. Both sizes live side by side (two databases on one
server), are analysed after seeding, warmed up, and timed in interleaved rounds with the same number of samples,
so a change in the machine's load hits both alike. Loopback only, bounded in count.
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

import psycopg  # noqa: F401 - loaded before the app: this bench serves PostgreSQL too (drivers.py)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from argon2 import PasswordHasher  # noqa: E402

import db  # noqa: E402
import models  # noqa: E402
from app import create_app  # noqa: E402
from domain import activation, registration  # noqa: E402
from domain.auth import authenticate
from models import Account  # noqa: E402
from tests.postgres_server import PostgresServer, server_binaries  # noqa: E402

SAMPLES = 400
ROUNDS = 50
WARMUP = 20
THREADS = 4
SMALL = 1_000
PASSWORD = "kerekes kút mellett áll a nyírfa"
CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ALLOWED_RATIO = 1.2


def make_app(url):
    unlimited = {
        k: "10000"
        for k in (
            "KAPU_CLIENT_POSTS_PER_MINUTE",
            "KAPU_CLIENT_WRONG_CODES_PER_HOUR",
            "KAPU_CODES_PER_ACCOUNT_PER_HOUR",
            "KAPU_CLIENT_MAILS_PER_HOUR",
        )
    }
    return create_app(
        {
            "KAPU_DATABASE_URL": url,
            "KAPU_SECRET_KEY": "bench-" * 6,
            "KAPU_SMTP_HOST": "",
            "KAPU_BASE_URL": "http://127.0.0.1:5000",
            "PASSWORD_HASHER": CHEAP_ARGON2,
            **unlimited,
        }
    )


def seed_filler(database, total):
    """Bring the account table to *total* rows (pending, each with a live code), in two statements in the database."""
    have = Account.select().count()
    if total <= have:
        return
    now = datetime(2026, 1, 1)
    columns, values, params = [], [], []
    generated = {
        "username": "'filler.' || n",
        "display_username": "'filler.' || n",
        "email": "'filler' || n || '@example.hu'",
        "full_name": "'Filler'",
    }
    for field in Account._meta.sorted_fields:
        if field.name == "id":
            continue
        columns.append(f'"{field.column_name}"')
        if field.name in generated:
            values.append(generated[field.name])
            continue
        value = now if field.name == "created_at" else (field.default() if callable(field.default) else field.default)
        values.append(database.param)
        params.append(value)
    # Only numbers and the driver's placeholder are formatted into these statements.
    if db.is_postgres(database):
        numbers = f"generate_series({have + 1}, {total}) AS seq(n)"
        prefix = ""
    else:
        numbers = "seq"
        prefix = f"WITH RECURSIVE seq(n) AS (SELECT {have + 1} UNION ALL SELECT n + 1 FROM seq WHERE n < {total}) "  # noqa: S608
    first_new = (Account.select(Account.id).order_by(Account.id.desc()).scalar() or 0) + 1
    mark = database.param
    with database.atomic():
        database.execute_sql(
            f"INSERT INTO account ({', '.join(columns)}) {prefix}SELECT {', '.join(values)} FROM {numbers}",  # noqa: S608
            params,
        )
        database.execute_sql(
            "INSERT INTO one_time_code (account_id, code_hash, purpose, created_at, expires_at, failed_attempts) "  # noqa: S608
            f"SELECT id, 'x', 'activation', {mark}, {mark}, 0 FROM account WHERE id >= {mark}",
            (now, datetime(2100, 1, 1), first_new),
        )


def analyze(database):
    """Fresh statistics for the planner (and on PostgreSQL the big insert's vacuum done now, not by autovacuum)."""
    database.execute_sql("VACUUM ANALYZE" if db.is_postgres(database) else "ANALYZE")


def pending_citizens(app, prefix, count):
    """*count* pending accounts registered as an office would, with the codes their mail carries."""
    kapu = app.extensions["kapu"]
    found = []
    with app.test_request_context():
        for i in range(count):
            result = registration.register(
                kapu,
                username=f"{prefix}.{i}",
                full_name="Bench",
                language="hu",
                email=f"{prefix}.{i}@example.hu",
                channel="office",
            )
            found.append((f"{prefix}.{i}", result.link.rsplit("/", 1)[1]))
    return [(username, kapu.activation_links.read(token).data.code) for username, token in found]


def activate(app, item):
    outcome = activation.activate(app.extensions["kapu"], item[0], item[1], PASSWORD)
    assert outcome is activation.Outcome.ACTIVATED, outcome


def log_in(app, item):
    assert authenticate(app.extensions["kapu"], item[0], PASSWORD) is not None


class Size:
    """One database of one size: its app, and the citizens that warm it up, are timed, and run in parallel."""

    def __init__(self, accounts_wanted, url):
        self.accounts = accounts_wanted
        self.app = make_app(url)
        self.database = self.app.extensions["kapu_database"]
        self.samples = {"activation": [], "login": []}

    def use(self):
        """Point the models at this database (both apps share the models' one database proxy)."""
        models.database.initialize(self.database)
        return self.app.app_context()

    def prepare(self):
        with self.use():
            seed_filler(self.database, self.accounts)
            prefix = f"b{self.accounts}"
            self.warm = pending_citizens(self.app, f"{prefix}.warm", WARMUP)
            self.timed = pending_citizens(self.app, f"{prefix}.p50", SAMPLES)
            self.parallel = pending_citizens(self.app, f"{prefix}.tp", SAMPLES)
            analyze(self.database)
            self.total = Account.select().count()

    def warm_up(self):
        with self.use():
            for item in self.warm:
                activate(self.app, item)
            for item in self.warm:
                log_in(self.app, item)

    def time(self, name, work, items):
        with self.use():
            for item in items:
                start = time.perf_counter()
                work(self.app, item)
                self.samples[name].append((time.perf_counter() - start) * 1000)

    def explain(self):
        """EXPLAIN ANALYZE every statement one activation and one login run (rolled back), to see the plans."""
        statements, real = [], self.database.execute_sql

        def record(sql, params=None, *args, **kwargs):
            statements.append((sql, params))
            return real(sql, params, *args, **kwargs)

        with self.use():
            item = pending_citizens(self.app, f"b{self.accounts}.explain", 1)[0]
            self.database.execute_sql = record
            try:
                activate(self.app, item)
                log_in(self.app, item)
            finally:
                del self.database.execute_sql
            for sql, params in statements:
                if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")) or "pg_advisory" in sql:
                    continue
                with self.database.atomic() as transaction:
                    plan = [row[0] for row in real("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)]
                    transaction.rollback()
                print(f"  {sql[:150]}\n" + "\n".join(f"      {line}" for line in plan), flush=True)

    def p50(self, name):
        return statistics.median(self.samples[name])

    def throughput(self, work, items):
        """Operations per second with THREADS workers (each its own connection)."""
        chunks = [items[i::THREADS] for i in range(THREADS)]

        def run(chunk):
            with self.app.app_context():
                for item in chunk:
                    work(self.app, item)

        with self.use():
            threads = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return len(items) / (time.perf_counter() - start)


def interleaved(sizes, name, work, items_of):
    """SAMPLES operations on each size in ROUNDS rounds, the sizes taking turns (first one, then the other)."""
    batch = SAMPLES // ROUNDS
    for number in range(ROUNDS):
        for size in sizes if number % 2 == 0 else reversed(sizes):
            size.time(name, work, items_of(size)[number * batch : (number + 1) * batch])


def bench(label, small_url, large_url, large, explain=False):
    """The two sizes side by side on one server, measured alike; True when the large one is within the ratio."""
    sizes = [Size(SMALL, small_url), Size(large, large_url)]
    seeding = time.perf_counter()
    for size in sizes:
        size.prepare()
    print(f"{label:<11} seeded and analysed in {time.perf_counter() - seeding:.0f} s", flush=True)
    for size in sizes:
        size.warm_up()
    interleaved(sizes, "activation", activate, lambda size: size.timed)
    interleaved(sizes, "login", log_in, lambda size: size.timed)
    for size in sizes:
        activations_per_s = size.throughput(activate, size.parallel)
        logins_per_s = size.throughput(log_in, size.parallel)
        print(
            f"{label:<11} {size.total:>9,} accounts   activation p50 {size.p50('activation'):6.2f} ms"
            f"  {activations_per_s:6.0f}/s   login p50 {size.p50('login'):6.2f} ms  {logins_per_s:6.0f}/s"
            f" ({THREADS} threads)",
            flush=True,
        )
    ok = True
    for name in ("activation", "login"):
        ratio = sizes[1].p50(name) / sizes[0].p50(name)
        verdict = "ok" if ratio <= ALLOWED_RATIO else f"OVER {ALLOWED_RATIO}x"
        ok = ok and ratio <= ALLOWED_RATIO
        print(
            f"{label:<11} {name} p50 at {large:,} / at {SMALL:,} accounts: {ratio:.2f}x  {verdict}"
            f" ({SAMPLES} samples each, {ROUNDS} interleaved rounds)",
            flush=True,
        )
    if explain:
        sizes[1].explain()
    for size in sizes:
        db.close_all(size.database)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--explain", action="store_true", help="show the plans of the large database's statements")
    options = parser.parse_args()
    kinds = options.databases.split(",")
    ok = True
    if "sqlite" in kinds:
        folder = Path(mkdtemp(prefix="kapu-bench-"))
        ok &= bench(
            "sqlite",
            f"sqlite:///{folder / 'small.db'}",
            f"sqlite:///{folder / 'large.db'}",
            options.accounts,
            options.explain,
        )
    if "postgresql" in kinds:
        binaries = server_binaries()
        if binaries is None:
            sys.exit("PostgreSQL server binaries are missing: install Debian's postgresql package")
        server = PostgresServer(binaries).start()
        try:
            ok &= bench(
                "postgresql",
                server.url(server.create_database()),
                server.url(server.create_database()),
                options.accounts,
                options.explain,
            )
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
