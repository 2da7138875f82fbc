"""The operator's commands (schema, backup, restore, retention): parse arguments, call, print one line."""

from __future__ import annotations

import sqlite3

import click
from flask import current_app
from flask.cli import with_appcontext

import migrations
from domain import help as articles
from domain import offices


class CommandError(click.ClickException):
    def show(self, file=None):
        click.echo(f"kapu: {self.message}", err=True)


def register(app):
    for command in (init_db, migrate, backup):
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


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup(target):
    """Copy the SQLite database with its online backup API (safe while the server runs)."""
    if not current_app.config["KAPU_DATABASE_URL"].startswith("sqlite:///"):
        raise CommandError("backup copies SQLite databases; use the database server's own tools")
    with sqlite3.connect(target) as copy:
        _database().connection().backup(copy)
    click.echo(f"Backed up to {target}.")
