"""Backup and restore of the SQLite database with its generated secret key: one 0600 tar file."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import tarfile
import tempfile
from pathlib import Path

from peewee import SqliteDatabase

import migrations

DATABASE_MEMBER = "kapu.db"
KEY_MEMBER = "secret_key"


class OperationError(Exception):
    """The operation cannot be done safely; the message says why in one line."""


def backup(connection: sqlite3.Connection, key_file: str | None, target: str) -> bool:
    """Write an online, consistent copy (SQLite backup API) and the key file into *target* (0600 from creation).

    Returns whether the key went in (False when KAPU_SECRET_KEY comes from the environment)."""
    target = Path(target)
    if target.exists():
        raise OperationError(f"{target} exists; choose a new file name")
    if not target.parent.is_dir():
        raise OperationError(f"{target.parent} is not a folder")
    key = Path(key_file).read_bytes() if key_file and Path(key_file).exists() else None
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
    if key is not None and key_file:
        with _private_temp(Path(key_file).parent) as new_key:
            Path(new_key).write_bytes(key)
            os.replace(new_key, key_file)
        return True
    return False


def _read_backup(source):
    """The database and key bytes of a backup file (the key is None when the backup has none)."""
    if not Path(source).is_file():
        raise OperationError(f"{source} is not a backup file")
    try:
        with tarfile.open(source, "r") as archive:
            members = {member.name: member for member in archive.getmembers() if member.isfile()}
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
