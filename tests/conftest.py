"""Fixtures: a fresh app per test on an empty database (SQLite, then PostgreSQL), a client, a CLI runner, a clock
and the outbox.

Every test that builds an app (through `app_config`) runs on both databases: `[sqlite]` on its own file,
`[postgresql]` on a real server the session starts (tests/postgres_server.py). `--databases=sqlite` narrows a run;
`@pytest.mark.sqlite_only` keeps a test that inspects the SQLite file itself to SQLite.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import jinja2
import psycopg  # noqa: F401 - loaded before the app: the suite serves PostgreSQL too (drivers.py)
import pytest
from hypothesis import HealthCheck, settings
from werkzeug.routing import Rule

import db
from app import create_app
from domain import offices
from tests.postgres_server import PostgresServer, server_binaries
from tests.smtp_server import SmtpServer
from tests.support.helpers import (
    BASE_URL,
    FAST_HASHER,
    OFFICE,
    SECRET_KEY,
    Auth,
    FrozenClock,
    Mailbox,
    csrf_token,
    missing,
    register_citizen,
)

DATABASES = ("sqlite", "postgresql")

# The property tests (tests/test_bad_input_*.py): 60 examples each in `make test`; `make test-fast` loads "quick"
# (--hypothesis-profile=quick) and tries 20, a third of the time. No example database: every run draws afresh.
# Each example reuses the test's app (function-scoped fixtures): what one example changes, the next may see.
settings.register_profile(
    "full", max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile("quick", parent=settings.get_profile("full"), max_examples=20)
settings.load_profile("full")


class _CompiledTemplates(jinja2.BytecodeCache):
    """Every test builds a new app, and each app's Jinja environment would compile every template it renders
    again (a third of the suite's time): the compiled code objects are kept for the run, keyed by name and
    checked against the source's checksum. A code object is immutable, so apps can share it."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        checksum, code = self.compiled.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = (bucket.checksum, bucket.code)


COMPILED_TEMPLATES = _CompiledTemplates()


@pytest.fixture(scope="session", autouse=True)
def url_rules_kept():
    """Every new app makes werkzeug parse every route's rule and generate and compile two URL-builder functions per
    route (15% of the suite's time, then a sixth of each app's build). A parse depends only on the rule's text, its
    host or subdomain, whether slashes merge and the map's converters; a builder only on the rule's parsed shape, its
    defaults and whether unknown arguments are appended: the run keeps one of each per such key, and each rule still
    binds them to itself (a converter keeps no state of its own)."""
    parse, generate = Rule.compile, Rule._compile_builder
    parsed, builders = {}, {}

    def compile_rule(rule):
        domain = rule.host if rule.map.host_matching else rule.subdomain
        key = (rule.rule, domain, rule.merge_slashes, tuple(rule.map.converters.items()))
        if key not in parsed:
            parse(rule)
            parsed[key] = (rule._parts, rule._trace, rule._converters)
            return
        parts, trace, converters = parsed[key]
        rule._parts, rule._trace, rule._converters = list(parts), list(trace), dict(converters)
        rule.arguments.update(converters)
        rule._build = rule._compile_builder(False).__get__(rule, None)
        rule._build_unknown = rule._compile_builder(True).__get__(rule, None)

    def compile_builder(rule, append_unknown=True):
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
        if key not in builders:
            builders[key] = generate(rule, append_unknown)
        return builders[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "compile", compile_rule)
        patch.setattr(Rule, "_compile_builder", compile_builder)
        yield


def pytest_addoption(parser):
    parser.addoption(
        "--databases",
        default=",".join(DATABASES),
        help="comma-separated databases to run the app tests on (default: %(default)s)",
    )


def pytest_collection_finish(session):
    """What is alive once the tests are collected (modules, tests, the prepared caches) lives for the whole run:
    frozen out of the garbage collector's sweeps, and a larger youngest generation makes the collector run a
    quarter as often (each test builds an app and throws it away: the sweeps took about 7% of the suite's time)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 10, 10)


def pytest_collection_modifyitems(items):
    """`slow` (left out of `make test-fast`): a browser, the built binary, PostgreSQL, or a mark of the test's own
    (a server or command-line process, kill -9, a timing measurement)."""
    for item in items:
        on_postgres = "postgres_server" in getattr(item, "fixturenames", ()) or (
            getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "postgresql"
        )
        if on_postgres or item.get_closest_marker("browser") or item.get_closest_marker("dist"):
            item.add_marker(pytest.mark.slow)


def pytest_generate_tests(metafunc):
    if "database_url" not in metafunc.fixturenames:
        return
    kinds = [k for k in metafunc.config.getoption("databases").split(",") if k in DATABASES]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        kinds = [k for k in kinds if k == "sqlite"]
    metafunc.parametrize("database_url", kinds, indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole run; missing binaries fail under CI and skip elsewhere."""
    binaries = server_binaries()
    if binaries is None:
        missing("PostgreSQL server binaries are missing: install Debian's postgresql package")
    server = PostgresServer(binaries).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_test_database(postgres_server):
    return postgres_server.create_database()


@pytest.fixture
def database_url(request, tmp_path, monkeypatch):
    """An empty database of the kind the test is parametrised with; every connection the test opened is closed."""
    opened = []
    real_open = db.open_database

    def open_and_remember(url):
        database = real_open(url)
        opened.append(database)
        return database

    monkeypatch.setattr(db, "open_database", open_and_remember)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kapu.db'}"
    else:
        server, name = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_test_database")
        yield server.url(name)
    for database in opened:
        db.close_all(database)
    if request.param == "postgresql":
        server.empty_database(name)


def app_config_for(database_url):
    return {
        "TESTING": True,
        "KAPU_DATABASE_URL": database_url,
        "KAPU_SECRET_KEY": SECRET_KEY,
        "KAPU_BASE_URL": BASE_URL,
        "KAPU_SMTP_HOST": "",
        # Assertions read English messages; tests/test_i18n.py covers the Hungarian default.
        "KAPU_LANGUAGE": "en",
        "PASSWORD_HASHER": FAST_HASHER,
    }


@pytest.fixture
def app_config(database_url):
    return app_config_for(database_url)


def _with_demo_offices(app):
    with app.app_context():
        offices.seed_demo_offices()
    return app


@pytest.fixture(scope="session")
def prepared_sqlite(tmp_path_factory):
    """A SQLite file with the current schema, the shipped help articles and the demo offices, made once per test
    process: a test's new SQLite database starts as a copy of it instead of being built again (50-70 ms a test).
    tests/test_migrations.py builds schemas from nothing itself."""
    path = tmp_path_factory.mktemp("prepared") / "kapu.db"
    app = create_app(app_config_for(f"sqlite:///{path}"))
    _with_demo_offices(app)
    db.close_all(app.extensions["kapu_database"])  # the last connection folds the WAL back into the file
    return path


@pytest.fixture
def make_app(app_config, tmp_path, request):
    """Builds an app on the test's database with some settings changed: make_app(KAPU_CODE_TTL=60).

    KAPU_* values are given as the environment would give them (text); the demo offices are added (a new SQLite
    database is a copy of `prepared_sqlite`, which holds them already)."""

    def make(**overrides):
        config = {**app_config, **{k: str(v) if k.startswith("KAPU_") else v for k, v in overrides.items()}}
        url = config["KAPU_DATABASE_URL"]
        copied = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()
        if copied:
            shutil.copyfile(request.getfixturevalue("prepared_sqlite"), url.removeprefix("sqlite:///"))
        app = create_app(config)
        app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
        app.instance_path = str(tmp_path / "instance")
        return app if copied else _with_demo_offices(app)

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def hu_app(make_app):
    """Hungarian by default, as deployed (the `app` fixture answers in English, which the assertions read)."""
    return make_app(KAPU_LANGUAGE="hu")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def services(app):
    return app.extensions["kapu"]


@pytest.fixture
def frozen_clock(monkeypatch):
    return FrozenClock(monkeypatch)


@pytest.fixture
def mailbox(app):
    return Mailbox(app)


@pytest.fixture
def csrf(client):
    return lambda path=None: csrf_token(client, path)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free local port; `received` holds what it was sent."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def auth(app, client, mailbox):
    return Auth(app, client, mailbox)


@pytest.fixture
def registered(app):
    """A pending registration made at an office, as a clerk would."""
    return register_citizen(app, channel="office", office=OFFICE)


@pytest.fixture
def active(auth, registered):
    """The registered citizen, activated with STRONG_PASSWORD (the client is not logged in)."""
    assert auth.activate().status_code == 200
    return registered.account


@pytest.fixture
def logged_in(auth, active):
    """The active citizen, logged in on `client`."""
    assert auth.login().status_code == 303
    return active
