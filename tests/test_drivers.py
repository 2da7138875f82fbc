"""A SQLite deployment never loads the PostgreSQL driver; a PostgreSQL one (or a move to PostgreSQL) always does."""

import subprocess
import sys

import pytest

from drivers import DRIVER_MODULES, keep_driver_out
from tests.served import ROOT, clean_environment

SQLITE = {"KAPU_DATABASE_URL": "sqlite:////srv/kapu/kapu.db"}
POSTGRES = {"KAPU_DATABASE_URL": "postgresql://kapu@db.example/kapu"}


def test_sqlite_keeps_every_postgres_driver_out():
    modules = {}
    assert keep_driver_out(SQLITE, ["flask", "serve"], modules)
    assert modules == dict.fromkeys(DRIVER_MODULES)


def test_no_database_url_means_the_default_sqlite_file():
    modules = {}
    assert keep_driver_out({}, ["kapu", "serve"], modules)
    assert modules["psycopg"] is None


@pytest.mark.parametrize(
    "environ, argv",
    [
        (POSTGRES, ["flask", "serve"]),
        ({"KAPU_DATABASE_URL": "postgres://kapu@db.example/kapu"}, ["kapu", "serve"]),
        (SQLITE, ["flask", "--app", "app", "move-to-postgres", "postgresql://kapu@db.example/kapu"]),
    ],
)
def test_postgres_named_anywhere_lets_the_driver_load(environ, argv):
    modules = {}
    assert not keep_driver_out(environ, argv, modules)
    assert modules == {}


def test_a_process_that_already_has_the_driver_or_peewee_is_left_alone():
    loaded = {"psycopg": object()}
    assert not keep_driver_out(SQLITE, ["pytest"], loaded)
    assert not keep_driver_out(SQLITE, ["pytest"], {"peewee": object()})


def _loaded_driver(env, *argv):
    """What `import app` leaves in sys.modules['psycopg'] in a fresh process started with *env* and *argv*."""
    probe = "import sys, app; print(repr(sys.modules.get('psycopg')))"
    result = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        cwd=ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow
def test_a_started_process_loads_the_driver_only_for_postgres():
    assert _loaded_driver(SQLITE) == "None"
    assert "module 'psycopg'" in _loaded_driver(POSTGRES)
    assert "module 'psycopg'" in _loaded_driver(SQLITE, "move-to-postgres", POSTGRES["KAPU_DATABASE_URL"])


@pytest.mark.slow
def test_postgres_asked_for_after_a_sqlite_start_says_what_to_do():
    probe = "import app; app.create_app({'KAPU_DATABASE_URL': 'postgresql://kapu@127.0.0.1:9/kapu'})"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=clean_environment(**SQLITE),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set KAPU_DATABASE_URL before starting" in result.stderr
