"""The guarantees under parallel requests, on SQLite and on PostgreSQL: threads released together at a barrier,
each on its own database connection, as requests in several workers or servers would be."""

from __future__ import annotations

import pytest

from domain import activation, outbox
from models import OneTimeCode, OutboxMessage
from tests.support.helpers import PARALLEL, STRONG_PASSWORD, at_once, csrf_token, in_parallel


def test_one_code_activates_once_however_many_try_it_at_once(app, services, registered, mailbox):
    code = mailbox.last_code()
    outcomes = in_parallel(app, at_once(lambda _: activation.activate(services, "kovacs.janos", code, STRONG_PASSWORD)))
    assert outcomes.count(activation.Outcome.ACTIVATED) == 1
    assert set(outcomes) - {activation.Outcome.ACTIVATED} <= {activation.Outcome.USED}


def test_parallel_wrong_codes_are_all_counted_and_void_the_code(app, services, registered, mailbox):
    code = mailbox.last_code()
    wrong = "ABCDE-23456" if code != "ABCDE-23456" else "ABCDE-23457"
    outcomes = in_parallel(
        app, at_once(lambda _: activation.activate(services, "kovacs.janos", wrong, STRONG_PASSWORD))
    )
    assert set(outcomes) == {activation.Outcome.INVALID}
    with app.app_context():
        row = OneTimeCode.get(OneTimeCode.account == registered.account)
        assert row.voided_at is not None and row.failed_attempts >= services.max_attempts
        assert activation.activate(services, "kovacs.janos", code, STRONG_PASSWORD) is activation.Outcome.LOCKED


def test_the_hourly_code_limit_lets_exactly_three_through_at_once(app, registered, mailbox):
    def ask(_i, client, barrier):
        data = {"csrf_token": csrf_token(client), "username": "kovacs.janos"}
        barrier.wait()
        return client.post("/forgotten-password", data={**data, "email": "janos@example.hu"}).status_code

    statuses = in_parallel(app, ask)
    limit = app.config["KAPU_CODES_PER_ACCOUNT_PER_HOUR"]
    assert limit == 3 and sorted(statuses) == [200] * limit + [429] * (PARALLEL - limit)
    reset_mails = [m for m, _ in mailbox.messages("janos@example.hu") if m.kind == "reset_code"]
    assert len(reset_mails) == limit
    with app.app_context():  # and of all the codes issued, only the newest still works
        live = OneTimeCode.select().where(OneTimeCode.used_at.is_null(), OneTimeCode.voided_at.is_null())
        assert live.count() == 1


@pytest.fixture
def eight_mails(app, services):
    with app.app_context():
        for i in range(PARALLEL):
            outbox.enqueue(services, "activation_code", f"c{i}@example.hu", "Code", "text", "", domain="kapu.test")


def test_parallel_outbox_claims_take_different_mails(app, eight_mails):
    claimed = in_parallel(app, at_once(lambda _: outbox.claim_next()))
    assert None not in claimed
    assert len({message.id for message in claimed}) == PARALLEL
    with app.app_context():
        assert OutboxMessage.select().where(OutboxMessage.status == "sending").count() == PARALLEL


def test_parallel_wrong_passwords_get_exactly_the_allowed_tries(app, registered, mailbox):
    with app.app_context():
        activation.activate(app.extensions["kapu"], "kovacs.janos", mailbox.last_code(), STRONG_PASSWORD)

    def guess(i, client, barrier):
        data = {"csrf_token": csrf_token(client), "username": "kovacs.janos"}
        barrier.wait()
        return client.post("/login", data={**data, "password": f"wrong guess number {i}!"}).status_code

    statuses = in_parallel(app, guess)
    allowed = app.config["KAPU_LOGIN_MAX_FAILURES"]
    assert sorted(statuses) == [401] * allowed + [429] * (PARALLEL - allowed)
