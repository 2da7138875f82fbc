"""Backup and restore of the database with its generated secret key: one 0600 tar file.

SQLite: the file, copied with SQLite's online backup API. PostgreSQL: `pg_dump`'s custom format (one consistent
snapshot while the servers run), put back with `pg_restore` in one transaction; the schema version goes beside it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from peewee import SqliteDatabase

import migrations

DATABASE_MEMBER = "kapu.db"
DUMP_MEMBER = "kapu.pgdump"
VERSION_MEMBER = "schema_version"
KEY_MEMBER = "secret_key"
PG_TIMEOUT_SECONDS = 3600
SET_ASIDE = "kapu_before_restore"  # the replaced schema, while a PostgreSQL restore runs


class OperationError(Exception):
    """The operation cannot be done safely; the message says why in one line."""


def _new_target(target: str) -> Path:
    """A backup never overwrites: the file must be new, in an existing folder."""
    target = Path(target)
    if target.exists():
        raise OperationError(f"{target} exists; choose a new file name")
    if not target.parent.is_dir():
        raise OperationError(f"{target.parent} is not a folder")
    return target


def _key_bytes(key_file: str | None) -> bytes | None:
    return Path(key_file).read_bytes() if key_file and Path(key_file).exists() else None


def backup(connection: sqlite3.Connection, key_file: str | None, target: str) -> bool:
    """Write an online, consistent copy (SQLite backup API) and the key file into *target* (0600 from creation).

    Returns whether the key went in (False when KAPU_SECRET_KEY comes from the environment)."""
    target, key = _new_target(target), _key_bytes(key_file)
    with _private_temp(target.parent) as copy_path:
        with contextlib.closing(sqlite3.connect(copy_path)) as copy:
            connection.backup(copy)
        with _private_temp(target.parent) as archive_path:
            with tarfile.open(archive_path, "w") as archive:
                archive.add(copy_path, arcname=DATABASE_MEMBER)
                if key is not None:
                    _add_bytes(archive, KEY_MEMBER, key)
            os.replace(archive_path, target)  # appears complete or not at all, already 0600
    return key is not None


def restore(database_path: str, key_file: str | None, source: str, *, force: bool) -> bool:
    """Put a backup back: the database (over an empty one, or any with --force) and its key. True if key restored."""
    database_bytes, key = _read_backup(source)
    with _private_temp(Path(database_path).parent) as extracted:
        Path(extracted).write_bytes(database_bytes)
        _check_backup(extracted)
        if not force:
            _check_nothing_lost(database_path)
        with (
            contextlib.closing(sqlite3.connect(extracted)) as copy,
            contextlib.closing(sqlite3.connect(database_path, timeout=10)) as live,
        ):
            copy.backup(live)
    return _put_key_back(key, key_file)


def _read_backup(source):
    """The database and key bytes of a backup file (the key is None when the backup has none)."""
    if not Path(source).is_file():
        raise OperationError(f"{source} is not a backup file")
    try:
        with tarfile.open(source, "r") as archive:
            members = {member.name: member for member in archive.getmembers() if member.isfile()}
            if DUMP_MEMBER in members:
                raise OperationError(
                    f"{source} holds a PostgreSQL dump: restore it with KAPU_DATABASE_URL=postgresql://…"
                )
            if DATABASE_MEMBER not in members:
                raise OperationError(f"{source} is not a Kapu backup (no {DATABASE_MEMBER} inside)")
            key = archive.extractfile(members[KEY_MEMBER]).read() if KEY_MEMBER in members else None
            return archive.extractfile(members[DATABASE_MEMBER]).read(), key
    except (tarfile.TarError, OSError) as error:
        raise OperationError(f"{source} is not a Kapu backup ({error})") from None


def _check_backup(path):
    database = SqliteDatabase(path)  # no WAL: nothing left beside the temporary file
    try:
        reason = migrations.problem(database)
        version = migrations.current_version(database)
    except Exception as error:  # noqa: BLE001 - any failure to read it means it is not usable
        raise OperationError(f"the backup's database cannot be read ({error})") from None
    finally:
        database.close()
    if version is None or version == 0 or (reason and version > migrations.latest()):
        raise OperationError(f"the backup cannot be restored by this Kapu: {reason or 'it holds no schema'}")


def _check_nothing_lost(database_path):
    """Refuse to overwrite a database holding accounts or mail, or a different key, unless forced."""
    if Path(database_path).exists():
        with contextlib.closing(sqlite3.connect(database_path)) as live:
            tables = {row[0] for row in live.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table in ("account", "outbox_message"):
                if table in tables and live.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():  # noqa: S608
                    raise OperationError(
                        f"{database_path} already holds data; stop the server and add --force to replace it"
                    )


def _add_bytes(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    archive.addfile(info, io.BytesIO(data))


@contextlib.contextmanager
def _private_temp(folder):
    """A temporary file created 0600 in *folder* (so a rename lands on the same file system); removed after."""
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=".kapu-", suffix=".tmp")
    os.close(descriptor)
    try:
        yield name
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def backup_postgres(url: str, version: int, key_file: str | None, target: str) -> bool:
    """pg_dump's consistent snapshot of the database at *url*, its schema version and the key, into *target*."""
    target, key = _new_target(target), _key_bytes(key_file)
    with _private_temp(target.parent) as dump_path:
        _run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", f"--file={dump_path}"], url)
        with _private_temp(target.parent) as archive_path:
            with tarfile.open(archive_path, "w") as archive:
                _add_bytes(archive, DUMP_MEMBER, Path(dump_path).read_bytes())
                _add_bytes(archive, VERSION_MEMBER, str(version).encode())
                if key is not None:
                    _add_bytes(archive, KEY_MEMBER, key)
            os.replace(archive_path, target)
    return key is not None


def restore_postgres(database, url: str, key_file: str | None, source: str, *, force: bool) -> bool:
    """Put a PostgreSQL backup back into the database at *url* (emptied first), in one transaction; then its key."""
    members = _read_members(source)
    if DUMP_MEMBER not in members:
        kind = "a SQLite database" if DATABASE_MEMBER in members else "no PostgreSQL dump"
        raise OperationError(f"{source} holds {kind}: it cannot be restored into PostgreSQL")
    try:
        version = int(members.get(VERSION_MEMBER, b"").decode())
    except ValueError:
        raise OperationError(f"{source} is not a Kapu backup (no schema version inside)") from None
    if version > migrations.latest():
        raise OperationError(
            f"the backup cannot be restored by this Kapu: its schema is version {version}, newer than this Kapu "
            f"(version {migrations.latest()})"
        )
    if not force:
        _check_nothing_lost_in(database, url)
    with _private_temp(Path(key_file).parent if key_file else Path(tempfile.gettempdir())) as dump_path:
        Path(dump_path).write_bytes(members[DUMP_MEMBER])
        _set_aside(database)  # the schema there now, whatever its version, kept until the backup is in
        try:
            _run_pg(
                "pg_restore",
                ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"],
                url,
                dump_path,
            )
        except OperationError:
            _put_back(database)
            raise
        _drop_set_aside(database)
    return _put_key_back(members.get(KEY_MEMBER), key_file)


def _set_aside(database):
    """Rename the current schema out of the way and start an empty one, so a backup of any version goes in."""
    with database.atomic():
        if database.execute_sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SET_ASIDE,)).fetchone():
            raise OperationError(
                f"the schema {SET_ASIDE} is left from an interrupted restore: look at it, drop it, then restore again"
            )
        database.execute_sql(f"ALTER SCHEMA public RENAME TO {SET_ASIDE}")
        database.execute_sql("CREATE SCHEMA public")
    database.close()


def _put_back(database):
    with database.atomic():
        database.execute_sql("DROP SCHEMA public CASCADE")
        database.execute_sql(f"ALTER SCHEMA {SET_ASIDE} RENAME TO public")
    database.close()


def _drop_set_aside(database):
    with database.atomic():
        database.execute_sql(f"DROP SCHEMA {SET_ASIDE} CASCADE")
    database.close()


def _put_key_back(key, key_file) -> bool:
    if key is not None and key_file:
        with _private_temp(Path(key_file).parent) as new_key:
            Path(new_key).write_bytes(key)
            os.replace(new_key, key_file)
        return True
    return False


def _read_members(source) -> dict[str, bytes]:
    if not Path(source).is_file():
        raise OperationError(f"{source} is not a backup file")
    try:
        with tarfile.open(source, "r") as archive:
            return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    except (tarfile.TarError, OSError) as error:
        raise OperationError(f"{source} is not a Kapu backup ({error})") from None


def _check_nothing_lost_in(database, url):
    tables = set(database.get_tables())
    for table in ("account", "outbox_message"):
        if table in tables and database.execute_sql(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():  # noqa: S608
            name = urlsplit(url).path.lstrip("/")
            raise OperationError(f"the database {name} already holds data; stop the servers and add --force")


def _run_pg(program, arguments, url, *files):
    """Run pg_dump or pg_restore on *url*; the password travels in the environment, never on the command line."""
    found = shutil.which(program)
    if found is None:
        raise OperationError(f"{program} was not found: install PostgreSQL's client programs (postgresql-client)")
    parts = urlsplit(url)
    env = dict(os.environ)
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    dbname = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
    try:
        result = subprocess.run(  # noqa: S603 - a fixed program, our own arguments
            [found, *arguments, f"--dbname={dbname}", *files],
            env=env,
            capture_output=True,
            text=True,
            timeout=PG_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise OperationError(f"{program} did not finish within {PG_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise OperationError(f"{program} failed: {lines[0] if lines else f'exit status {result.returncode}'}")
