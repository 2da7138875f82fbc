"""Kapu's command line: `flask --app app <command>`. Errors are one line on stderr, non-zero exit."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from domain import accounts, delivery
from domain.delivery import SmtpSettings
from models import Account, create_schema


class CommandError(click.ClickException):
    def show(self, file=None):
        click.echo(f"kapu: {self.message}", err=True)


def register(app):
    for command in (init_db, register_citizen, send_mail, serve):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or migrate the database schema (safe to run again)."""
    create_schema()
    click.echo("Database ready.")


def _validate_registration(username, full_name, email):
    from email_validator import EmailNotValidError, validate_email

    from forms.fields import _has_control_characters

    if not accounts.username_is_well_formed(username):
        raise CommandError("--username must be 3 to 64 letters, digits, dots, hyphens or underscores")
    if not full_name.strip() or len(full_name) > accounts.FULL_NAME_MAX or _has_control_characters(full_name):
        raise CommandError("--full-name must be 1 to 200 printable characters")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise CommandError(f"--email is not a valid address: {error}") from None


@click.command("register")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--email", required=True)
@click.option("--office", default=None, help="the registration office's code")
@click.option("--language", type=click.Choice(["hu", "en"]), default=None)
@with_appcontext
def register_citizen(username, full_name, email, office, language):
    """Record an in-person registration and e-mail the one-time code (never printed)."""
    email = _validate_registration(username, full_name, email)
    create_schema()
    kapu = current_app.extensions["kapu"]
    result = accounts.register(
        kapu, username=username, full_name=full_name, email=email,
        language=language or kapu.default_language, channel="office" if office else "cli",
        office=office, actor="cli",
    )
    if result.taken:
        raise CommandError(f"the username {username!r} is already taken")
    where = "by SMTP" if current_app.config["KAPU_SMTP_HOST"] else "to /dev/mailbox"
    click.echo(f"Registered {result.account.display_username}; the activation code was sent to "
               f"{result.account.email} ({where}).")


@click.command("send-mail")
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@with_appcontext
def send_mail(once):
    """Deliver the outbox over SMTP (for deployments that run delivery apart from the web server)."""
    transport = SmtpSettings.from_config(current_app.config)
    if transport is None:
        raise CommandError("KAPU_SMTP_HOST is not set: mail stays in /dev/mailbox")
    kapu = current_app.extensions["kapu"]
    if once:
        click.echo(f"Sent {delivery.deliver_due(kapu, transport, limit=10_000)} message(s).")
        return
    worker = delivery.DeliveryWorker(current_app._get_current_object(), transport)
    worker.run()


@click.command("serve")
@click.option("--host", envvar="KAPU_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="KAPU_PORT", default=5000, type=click.IntRange(1, 65535), show_default=True)
@click.option("--threads", default=8, show_default=True)
@with_appcontext
def serve(host, port, threads):
    """Serve Kapu with waitress, delivering mail from the same process; seed a demo on an empty database."""
    import waitress

    app = current_app._get_current_object()
    create_schema()
    demo_link = _seed_demo(app) if Account.select().count() == 0 else None
    transport = SmtpSettings.from_config(app.config)
    if transport is None:
        click.echo("Warning: KAPU_SMTP_HOST is not set; mail is kept in the database and shown at "
                   f"{app.config['KAPU_BASE_URL']}/dev/mailbox", err=True)
    else:
        delivery.DeliveryWorker(app, transport).start()
    click.echo(f"Kapu is running at http://{host}:{port}/")
    if demo_link:
        click.echo(f"Demo activation link (username: demo): {demo_link}")
    sys.stdout.flush()
    waitress.serve(app, host=host, port=port, threads=threads, ident="kapu")


def _seed_demo(app):
    kapu = app.extensions["kapu"]
    result = accounts.register(
        kapu, username="demo", full_name="Demo Polgár", email="demo@example.hu",
        language=kapu.default_language, channel="office", office="DEMO", actor="demo-seed",
    )
    return result.link
