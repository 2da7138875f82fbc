"""Numbered schema steps (`vNNN_<what>.py`, each with `upgrade(migrator, database)`) applied in order.

Each step runs in its own transaction that first takes a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
transaction-level advisory lock) and re-reads the recorded version, so two processes starting at once apply
every step exactly once. An empty database is created by every step in one such transaction, so a server starting
beside another that is creating it sees either no schema (and waits for the lock) or the current one, never half.
The version lives in the `schema_version` table (as released at b8083a0: one row per
applied step; the highest number is the database's version).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from datetime import UTC, datetime

from peewee import PostgresqlDatabase, SqliteDatabase, fn
from playhouse.migrate import SchemaMigrator

from migrations.v001_initial import TABLES as _INITIAL_TABLES
from migrations.v001_initial import SchemaVersion

STEP_NAME = re.compile(r"^v(\d{3})_[a-z0-9_]+$")
ADVISORY_LOCK_KEY = 0x4B415055  # "KAPU": one lock id for every Kapu schema change
_KAPU_TABLES = {model._meta.table_name for model in _INITIAL_TABLES}


class SchemaMismatch(Exception):
    """The database's schema version is not the one this code needs; the message is one line."""


@functools.cache
def steps() -> tuple[tuple[int, object], ...]:
    """Every step module, in order; two steps sharing a number is a packaging error, caught here. Found once per
    process (each start asks, and the shipped steps do not change under a running process)."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        match = STEP_NAME.match(info.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in found:
            raise RuntimeError(f"two migration steps are numbered {number:03d}: renumber one")
        found[number] = importlib.import_module(f"{__name__}.{info.name}")
    return tuple(sorted(found.items()))


def latest() -> int:
    """The schema version this code needs."""
    return steps()[-1][0]


def current_version(database) -> int | None:
    """The database's version: 0 when it holds no Kapu table, None when it has tables but no version."""
    tables = set(database.get_tables())
    if SchemaVersion._meta.table_name not in tables:
        return None if tables & _KAPU_TABLES else 0
    # Run on *database* itself, not through a model bound to it for the while: binding is for the whole process,
    # so two threads reading two databases at once would unbind each other's model mid-query.
    return SchemaVersion.select(fn.MAX(SchemaVersion.version)).scalar(database) or 0


def problem(database) -> str | None:
    """One line saying why this code must not run on *database*, or None when the schema is current."""
    return _problem_at(current_version(database))


def _problem_at(version: int | None) -> str | None:
    needed = latest()
    if version is None:
        return "the database has tables but no schema_version: it was not made by Kapu"
    if version > needed:
        return (
            f"the database schema is version {version}, newer than this Kapu (version {needed}): "
            "run the release that migrated it, or restore a backup made before"
        )
    if version < needed:
        return (
            f"the database schema is version {version}, this Kapu needs version {needed}: "
            "back it up (`backup PATH`), then run `migrate`"
        )
    return None


def prepare(database) -> bool:
    """Create the schema of an empty database; refuse any other that is not current. True when this call created it."""
    version = current_version(database)
    if version == 0:
        return bool(_apply(database, steps()))
    reason = _problem_at(version)
    if reason:
        raise SchemaMismatch(reason)
    return False


def upgrade(database) -> list[int]:
    """Apply the missing steps in order, each in one locked transaction; return the numbers applied."""
    if database.in_transaction():
        raise RuntimeError("migrations.upgrade must not run inside a transaction (it takes its own lock)")
    version = current_version(database)
    if version is None:
        raise SchemaMismatch(problem(database))
    needed = latest()
    if version > needed:
        raise SchemaMismatch(problem(database))
    applied = []
    for number, step in steps():
        if number <= version:
            continue
        applied += _apply(database, [(number, step)])
    return applied


def _apply(database, numbered_steps) -> list[int]:
    """Run the steps in one transaction under the lock, skipping any another process applied meanwhile."""
    sqlite = isinstance(database, SqliteDatabase)
    if sqlite:
        # Steps may rebuild a table (SQLite's way to alter a column); with foreign keys on, dropping the old
        # table would cascade into its children. Off for the step, checked before commit, on again after.
        database.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        with database.atomic(*(["IMMEDIATE"] if sqlite else [])):
            if isinstance(database, PostgresqlDatabase):
                database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            with database.bind_ctx([SchemaVersion]):
                database.create_tables([SchemaVersion], safe=True)
                applied = []
                for number, step in numbered_steps:
                    if SchemaVersion.select().where(SchemaVersion.version >= number).exists():
                        continue
                    step.upgrade(SchemaMigrator.from_database(database), database)
                    if sqlite:
                        broken = database.execute_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"migration {number:03d} left {len(broken)} broken foreign key(s)")
                    SchemaVersion.create(version=number, applied_at=datetime.now(UTC).replace(tzinfo=None))
                    applied.append(number)
        return applied
    finally:
        if sqlite:
            database.execute_sql("PRAGMA foreign_keys = ON")
