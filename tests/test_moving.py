"""move-to-postgres: a SQLite deployment copied to PostgreSQL keeps working there, for every citizen."""

import pytest

from domain import activation, notices
from domain.auth import authenticate
from models import Account, AuditEvent, Notice, OneTimeCode, OutboxMessage
from tests.support.helpers import STRONG_PASSWORD, Mailbox, register_citizen

TABLES = (Account, OneTimeCode, OutboxMessage, AuditEvent, Notice)


@pytest.fixture
def target_url(postgres_server):
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def snapshot(app):
    with app.app_context():
        return {
            model.__name__: [tuple(row.values()) for row in model.select().order_by(model.id).dicts()]
            for model in TABLES
        }


@pytest.mark.sqlite_only
def test_a_sqlite_deployment_moves_to_postgres_and_a_pending_account_activates_there(
    app, make_app, runner, mailbox, target_url
):
    services = app.extensions["kapu"]
    for name in ("anna.kiss", "bela.nagy", "cili.toth"):
        register_citizen(app, name, f"{name}@example.hu")
    pending_code = mailbox.last_code("cili.toth@example.hu")
    with app.app_context():
        activation.activate(services, "anna.kiss", mailbox.last_code("anna.kiss@example.hu"), STRONG_PASSWORD)
        notices.add(
            title="Karbantartás",
            body="Szombaton",
            service="",
            still_works="",
            contact="",
            severity="info",
            detected_at=None,
            until=None,
            actor="cli",
        )
    before = snapshot(app)

    result = runner.invoke(args=["move-to-postgres", target_url])
    assert result.exit_code == 0, result.output

    moved = make_app(KAPU_DATABASE_URL=target_url)
    assert snapshot(moved) == before
    moved_kapu = moved.extensions["kapu"]
    with moved.app_context():
        assert Mailbox(moved).last_code("cili.toth@example.hu") == pending_code  # the sealed mail opens there too
        outcome = activation.activate(moved_kapu, "cili.toth", pending_code, STRONG_PASSWORD)
        assert outcome is activation.Outcome.ACTIVATED
        assert authenticate(moved_kapu, "anna.kiss", STRONG_PASSWORD) is not None
    register_citizen(moved, "dani.szabo", "dani.szabo@example.hu")  # new rows continue past the copied ids
    with moved.app_context():
        assert Account.get(Account.username == "dani.szabo").id == len(before["Account"]) + 1

    again = runner.invoke(args=["move-to-postgres", target_url])
    assert again.exit_code != 0 and "already holds accounts" in again.output


def test_move_to_postgres_wants_a_postgres_address(runner):
    result = runner.invoke(args=["move-to-postgres", "sqlite:///elsewhere.db"])
    assert result.exit_code != 0 and "postgresql://" in result.output
