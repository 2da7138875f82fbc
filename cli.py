"""Kapu's command line: `flask --app app <command>`. Errors are one line on stderr, non-zero exit."""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click
import peewee
from flask import current_app
from werkzeug.datastructures import MultiDict

import migrations
import operator_cli
import serving
from config import LANGUAGES
from domain import delivery, desk, notices, offices, registration, upkeep
from domain.delivery import SmtpSettings
from forms.desk import NoticeForm
from forms.registration import RegistrationForm
from models import Account, Notice
from operator_cli import CommandError, with_schema

log = logging.getLogger("kapu.serve")


def add_commands(app):
    for command in (register_citizen, send_mail, serve, staff_group, notice_group, move_to_postgres):
        app.cli.add_command(command)
    operator_cli.add_commands(app)


def _validated(form_class, **fields):
    """The web form's own validators check what was typed on the command line: one rule, wherever it is entered."""
    form = form_class(formdata=MultiDict(fields), meta={"csrf": False})
    if not form.validate():
        name = next(name for name in fields if form[name].errors)  # the first in the order given
        raise CommandError(f"--{name.replace('_', '-')}: {form[name].errors[0]}")
    return form


@click.command("register")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--email", required=True)
@click.option("--office", default=None, help="the registration office's code")
@click.option("--language", type=click.Choice(["hu", "en"]), default=None)
@with_schema
def register_citizen(username, full_name, email, office, language):
    """Record an in-person registration and e-mail the one-time code (never printed)."""
    form = _validated(RegistrationForm, username=username, full_name=full_name, email=email)
    if office and offices.by_code(office) is None:
        raise CommandError(f"--office {office!r} is not a known registration office")
    services = current_app.extensions["kapu"]
    result = registration.register(
        services,
        username=form.username.data,
        full_name=form.full_name.data,
        email=form.email.data,
        language=language or services.default_language,
        channel="office" if office else "cli",
        office=office,
        actor="cli",
    )
    if result.taken:
        raise CommandError(f"the username {username!r} is already taken")
    if current_app.config["KAPU_SMTP_HOST"]:
        how = "was sent to {} (by SMTP)"
    elif current_app.config["KAPU_DEV_MAILBOX"]:
        how = "was sent to {} (to /dev/mailbox)"
    else:
        how = "for {} waits in the database: KAPU_SMTP_HOST is not set"
    click.echo(f"Registered {result.account.display_username}; the activation code {how.format(result.account.email)}.")


@click.command("send-mail")
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@with_schema
def send_mail(once):
    """Deliver the outbox over SMTP (for deployments that run delivery apart from the web server)."""
    transport = SmtpSettings.from_config(current_app.config)
    if transport is None:
        raise CommandError(
            "KAPU_SMTP_HOST is not set: mail waits in the database (shown at /dev/mailbox with KAPU_DEV_MAILBOX=1)"
        )
    services = current_app.extensions["kapu"]
    if once:
        click.echo(f"Sent {delivery.deliver_due(services, transport, limit=10_000)} message(s).")
        upkeep.tick(current_app._get_current_object())  # a cron-driven deployment beats and purges too
        return
    worker = delivery.DeliveryWorker(current_app._get_current_object(), transport)
    worker.run()


@click.command("serve")
@click.option("--demo", is_flag=True, help="on an empty database, add demo offices and a pending `demo` account")
@click.option("--host", envvar="KAPU_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="KAPU_PORT", default=5000, type=click.IntRange(1, 65535), show_default=True)
@click.option(
    "--threads",
    default=serving.THREADS_PER_WORKER,
    type=click.IntRange(1, 64),
    show_default=True,
    help="threads per worker process (KAPU_WORKERS sets the processes)",
)
@with_schema
def serve(demo, host, port, threads):
    """The production server: a process per core, mail delivery, graceful stop on SIGTERM; seeds only with --demo."""
    app = current_app._get_current_object()
    demo_link = _seed_demo(app) if demo and Account.select().count() == 0 else None
    if demo and not os.environ.get("KAPU_DEV_MAILBOX", "").strip():
        app.config["KAPU_DEV_MAILBOX"] = True  # the demo shows its mail (KAPU_DEV_MAILBOX=0 keeps it off)
    if app.config.get("KAPU_DEV_MAILBOX"):  # logged, so a JSON log stays JSON
        log.warning(
            "KAPU_DEV_MAILBOX is on: /dev/mailbox shows every unsent message, live codes included. "
            "Never use it in production."
        )
    if not app.config["KAPU_SMTP_HOST"]:
        log.warning("KAPU_SMTP_HOST is not set; mail is kept in the database and not delivered.")
    workers = app.config["KAPU_WORKERS"]
    click.echo(
        f"Kapu is running at http://{_url_host(host)}:{port}/ ({workers} worker process"
        f"{'es' if workers != 1 else ''} x {threads} threads)"
    )
    if demo_link:
        click.echo(f"Demo activation link (username: demo): {demo_link}")
    sys.stdout.flush()
    serving.run(app, host, port, workers, threads)


def _url_host(host):
    return f"[{host}]" if ":" in host else host


def _seed_demo(app):
    services = app.extensions["kapu"]
    offices.seed_demo_offices()
    result = registration.register(
        services,
        username="demo",
        full_name="Demo Polgár",
        email="demo@example.hu",
        language=services.default_language,
        channel="office",
        office="BP-KA-01",
        actor="demo-seed",
    )
    return result.link


@click.group("staff")
def staff_group():
    """Staff accounts of the registration desk."""


@staff_group.command("add")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(desk.ROLES), required=True)
@click.option("--office", default=None, help="the office's code (clerks need one)")
@click.password_option("--password", prompt="Password", help="asked on the terminal when not given")
@with_schema
def staff_add(username, role, office, password):
    """Add a clerk or an admin; they log in at /login and land on /desk."""
    if office and offices.by_code(office) is None:
        raise CommandError(f"--office {office!r} is not a known registration office")
    if not registration.username_is_well_formed(username):
        raise CommandError("--username must be 3 to 64 letters, digits, dots, hyphens or underscores")
    services = current_app.extensions["kapu"]
    problems = services.policy.problems(password, username)
    if problems:
        raise CommandError(f"the password is not acceptable ({', '.join(problems)})")
    try:
        account = desk.add_staff(services, username=username, role=role, password=password, office=office)
    except desk.StaffError as error:
        raise CommandError(str(error)) from None
    click.echo(f"Added {role} {account.display_username}" + (f" at {office}." if office else "."))


@click.group("notice")
def notice_group():
    """Service-disruption notices."""


def _moment(value, option):
    """An ISO date-time; without a zone it is taken as Budapest time. Stored as naive UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be an ISO date-time such as 2026-11-25T14:00 (got {value!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    return moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@notice_group.command("add")
@click.option("--title", required=True)
@click.option("--body", required=True)
@click.option("--service", default="", help="the affected service (default: the title)")
@click.option("--still-works", default="", help="what still works, what to do instead")
@click.option("--contact", default="", help="whom to ask")
@click.option("--severity", type=click.Choice(notices.SEVERITIES), default="disruption")
@click.option("--detected-at", default=None, help="ISO date-time; default now")
@click.option("--until", default=None, help="ISO date-time the notice ends by itself")
@click.option("--language", type=click.Choice(LANGUAGES), default=None, help="written in (default KAPU_LANGUAGE)")
@with_schema
def notice_add(title, body, service, still_works, contact, severity, detected_at, until, language):
    """Publish a notice: it shows on every page until it ends."""
    form = _validated(
        NoticeForm,
        title=title,
        body=body,
        service=service or title,
        still_works=still_works,
        contact=contact,
        severity=severity,
        language=language or current_app.config["KAPU_LANGUAGE"],
    )
    notice = notices.add(
        title=form.title.data,
        body=form.body.data,
        service=form.service.data,
        still_works=form.still_works.data or "",
        contact=form.contact.data or "",
        severity=severity,
        detected_at=_moment(detected_at, "--detected-at"),
        until=_moment(until, "--until"),
        language=form.language.data,
        actor="cli",
    )
    click.echo(f"Notice {notice.id} published.")


@notice_group.command("list")
@with_schema
def notice_list():
    """Every notice, newest first, with its state."""
    for notice in Notice.select().order_by(Notice.detected_at.desc()):
        state = "active" if notices.is_current(notice) else "ended"
        click.echo(f"{notice.id}\t{state}\t{notice.detected_at:%Y-%m-%d %H:%M}\t{notice.severity}\t{notice.title}")


@notice_group.command("end")
@click.argument("notice_id", type=int)
@with_schema
def notice_end(notice_id):
    """Mark a notice resolved now."""
    if notices.end(notice_id, actor="cli") is None:
        raise CommandError(f"there is no notice {notice_id}")
    click.echo(f"Notice {notice_id} ended.")


@click.command("move-to-postgres")
@click.argument("target_url")
@with_schema
def move_to_postgres(target_url):
    """Copy this deployment's database (every account, code, mail, notice and audit line) to PostgreSQL.

    Stop the server first; then start it with KAPU_DATABASE_URL set to TARGET_URL.
    """
    import moving

    if not target_url.startswith(("postgresql://", "postgres://")):
        raise CommandError(f"TARGET_URL must start with postgresql:// (got {target_url!r})")
    try:
        copied = moving.move(current_app.extensions["kapu_database"], target_url)
    except (moving.MoveRefused, migrations.SchemaMismatch) as error:
        raise CommandError(str(error)) from None
    except peewee.DatabaseError as error:
        raise CommandError(f"cannot copy to PostgreSQL: {str(error).strip()}") from None
    click.echo("Copied " + ", ".join(f"{count} {table}" for table, count in copied.items()) + ".")
    click.echo("Now start Kapu with KAPU_DATABASE_URL set to the target's address.")
