"""The operator's commands (schema, backup, restore, retention): parse arguments, call, print one line."""

from __future__ import annotations

import functools

import click
from flask import current_app
from flask.cli import with_appcontext

import migrations
import operations
import serving
from domain import help as articles
from domain import offices, retention
from models import schema_problem


class CommandError(click.ClickException):
    def show(self, file=None):
        click.echo(f"kapu: {self.message}", err=True)


def with_schema(command):
    """with_appcontext for a command that needs the current schema: when create_app found the database's schema
    mismatched, the command refuses with that one line (only migrate, init-db, backup and restore run then)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        problem = current_app.extensions.get("kapu_schema_problem")
        if problem:
            raise CommandError(problem)
        return command(*args, **kwargs)

    return with_appcontext(run)


def add_commands(app):
    for command in (init_db, migrate, backup, restore, purge):
        app.cli.add_command(command)


def _database():
    return current_app.extensions["kapu_database"]


def _migrate():
    """Apply the missing steps; a database newer than the code (or not Kapu's) is one clear line."""
    try:
        applied = migrations.upgrade(_database())
    except migrations.SchemaMismatch as mismatch:
        raise CommandError(str(mismatch)) from None
    current_app.extensions.pop("kapu_schema_problem", None)
    return applied


@click.command("migrate")
@with_appcontext
def migrate():
    """Apply the numbered schema migrations the database lacks (back it up first); safe to run again."""
    applied = _migrate()
    version = migrations.latest()
    if applied:
        done = ", ".join(f"{number:03d}" for number in applied)
        click.echo(f"Applied migration(s) {done}; the schema is at version {version}.")
    else:
        click.echo(f"The schema is current (version {version}).")


@click.command("init-db")
@click.option("--demo", is_flag=True, help="also add example registration offices")
@with_appcontext
def init_db(demo):
    """Create or migrate the database schema and add the shipped help articles (safe to run again)."""
    _migrate()
    articles.seed_articles(articles.SHIPPED)
    if demo:
        offices.seed_demo_offices()
    click.echo("Database ready." + (" Demo offices: " + ", ".join(o[0] for o in offices.DEMO_OFFICES) if demo else ""))


def _sqlite_path():
    """The SQLite file's path, or None on PostgreSQL (backed up with pg_dump)."""
    url = current_app.config["KAPU_DATABASE_URL"]
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else None


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False))
@with_appcontext
def backup(target):
    """Write an online, consistent copy of the database and its secret key to TARGET (one tar file, mode 0600)."""
    key_file = current_app.config.get("KAPU_SECRET_KEY_FILE")
    try:
        if _sqlite_path() is None:
            version = migrations.current_version(_database())
            url = current_app.config["KAPU_DATABASE_URL"]
            with_key = operations.backup_postgres(url, version, key_file, target)
        else:
            with_key = operations.backup(_database().connection(), key_file, target)
    except operations.OperationError as error:
        raise CommandError(str(error)) from None
    if with_key:
        click.echo(f"Backed up the database and its secret key to {target} (mode 0600).")
    else:
        click.echo(
            f"Backed up the database to {target} (mode 0600). KAPU_SECRET_KEY is set in the environment "
            "and is not in the backup: keep it (and KAPU_SECRET_KEY_FALLBACKS) with this file, or pending "
            "mail, live codes and links cannot be used after a restore."
        )


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="replace a database that already holds accounts or mail")
@with_appcontext
def restore(source, force):
    """Put a backup made by `backup` back (stop the server first); refuses to overwrite data without --force."""
    path = _sqlite_path()
    key_file = current_app.config.get("KAPU_SECRET_KEY_FILE")
    # A running server holds the deployment's delivery lease (or keeps asking for it): none may run during a restore.
    lease = serving.DeliveryLease(current_app.config["KAPU_DATABASE_URL"])
    if not lease.acquire():
        raise CommandError("a Kapu server is running on this database: stop every server first, then restore")
    try:
        if path is None:
            url = current_app.config["KAPU_DATABASE_URL"]
            with_key = operations.restore_postgres(_database(), url, key_file, source, force=force)
        else:
            _database().close()
            with_key = operations.restore(path, key_file, source, force=force)
    except operations.OperationError as error:
        raise CommandError(str(error)) from None
    finally:
        lease.release()
    what = "the database and its secret key" if with_key else "the database"
    click.echo(
        f"Restored {what} from {source}. Start the server again"
        + ("; run `migrate` first (the backup's schema is older)." if _older() else ".")
    )


def _older():
    _database().connect(reuse_if_open=True)
    return schema_problem() is not None


@click.command("purge")
@with_schema
def purge():
    """Delete what the retention settings say is no longer needed (the server also does it daily)."""
    counts = retention.purge(retention.Retention.from_config(current_app.config))
    click.echo("Deleted " + ", ".join(f"{n} {what}" for what, n in counts.items()) + ".")
