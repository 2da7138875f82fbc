"""Concurrency: argon2 never runs inside a write transaction, and racing writes end the way a user expects.

The parallel tests start threads at a barrier, each with its own test client and its own database
connection, against the ordinary `app` fixture (a file SQLite database, or PostgreSQL when the suite
runs there): nothing relies on SQLite having a single writer.
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

import domain.account
from domain import desk
from domain.auth import authenticate
from models import Account, AuditEvent, OneTimeCode
from tests.support.helpers import NEW_PASSWORD, PARALLEL, STRONG_PASSWORD, USERNAME, csrf_token, in_parallel


class SpyHasher(PasswordHasher):
    """The suite's cheap argon2id, noting every hash or verify made inside a transaction.

    `before[name]` runs once before the next call of that name (to make a race happen at that moment);
    `delay` stands for a production argon2's cost (which, like sleep, releases the GIL).
    """

    def __init__(self, database):
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.database = database
        self.inside_transaction: list[str] = []
        self.calls: list[str] = []
        self.before: dict = {}
        self.delay = 0.0
        self.rehash = False

    def _enter(self, name):
        self.calls.append(name)
        if self.database.in_transaction():
            self.inside_transaction.append(name)
        hook = self.before.pop(name, None)
        if hook is not None:
            hook()
        if self.delay:
            time.sleep(self.delay)

    def hash(self, password, *, salt=None):
        self._enter("hash")
        return super().hash(password, salt=salt)

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        self._enter("verify")
        return super().verify(hash, password)

    def check_needs_rehash(self, hash):  # noqa: A002
        return self.rehash or super().check_needs_rehash(hash)


@pytest.fixture
def hasher(app, services):
    spy = SpyHasher(app.extensions["kapu_database"])
    services.hasher = spy
    return spy


def elsewhere(app, work):
    """Run *work* now, to its end, as another request in another thread (with its own connection)."""
    return in_parallel(app, lambda i, client, barrier: work(client), count=1)[0]


def post_activation(client, code, password=STRONG_PASSWORD, username=USERNAME, barrier=None):
    data = {
        "csrf_token": csrf_token(client),
        "username": username,
        "code": code,
        "password": password,
        "password_confirm": password,
    }
    if barrier is not None:
        barrier.wait(timeout=30)
    return client.post("/activate", data=data)


def _verifies(stored, password):
    try:
        return PasswordHasher().verify(stored, password)
    except VerificationError:
        return False


def stored_account(app, username=USERNAME):
    with app.app_context():
        return Account.get(Account.username == username)


def live_code_row(app):
    with app.app_context():
        return OneTimeCode.get(OneTimeCode.account == stored_account(app).id)


def activation_outcomes(app):
    with app.app_context():
        return [e.outcome for e in AuditEvent.select().where(AuditEvent.kind == "activation")]


@pytest.fixture
def active(client, registered, mailbox, hasher):
    assert post_activation(client, mailbox.last_code()).status_code == 200
    return registered.account


# --- argon2 outside every transaction -------------------------------------------------------------------


def test_no_argon2_inside_a_transaction_on_any_path(app, services, client, registered, mailbox, hasher, auth):
    assert post_activation(client, mailbox.last_code()).status_code == 200
    assert auth.login(password="wrong password, long enough", client=app.test_client()).status_code == 401
    assert auth.login(username="nobody.at.all", client=app.test_client()).status_code == 401
    hasher.rehash = True
    assert auth.login().status_code == 303
    hasher.rehash = False
    email = client.post(
        "/account/email",
        data={"csrf_token": csrf_token(client, "/account"), "email": "new@example.hu", "password": STRONG_PASSWORD},
    )
    assert email.status_code == 303
    changed = auth.change_password()
    assert changed.status_code == 303
    with app.app_context():
        desk.add_staff(services, username="ugyintezo", role="admin", password=NEW_PASSWORD)
    assert hasher.calls.count("hash") >= 4 and hasher.calls.count("verify") >= 5
    assert hasher.inside_transaction == []


def test_a_rehash_on_login_never_writes_over_a_password_changed_meanwhile(app, services, active, hasher, auth):
    def change_password_now():
        with app.app_context():
            Account.update(
                password_hash=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(NEW_PASSWORD)
            ).where(Account.username == USERNAME).execute()

    hasher.rehash = True
    hasher.before["verify"] = change_password_now
    with app.test_request_context():
        authenticate(services, USERNAME, STRONG_PASSWORD)
    hasher.rehash = False
    assert auth.login(password=NEW_PASSWORD, client=app.test_client()).status_code == 303
    assert auth.login(password=STRONG_PASSWORD, client=app.test_client()).status_code == 401


def test_a_rehash_on_login_keeps_the_password_working(app, services, active, hasher, auth):
    before = stored_account(app).password_hash
    hasher.rehash = True
    assert auth.login(client=app.test_client()).status_code == 303
    hasher.rehash = False
    assert stored_account(app).password_hash != before
    assert auth.login(client=app.test_client()).status_code == 303


# --- activation races -------------------------------------------------------------------------------------


def test_a_code_used_while_the_password_was_hashed_tells_the_loser_it_was_used(
    app, services, client, registered, mailbox, hasher, auth
):
    code = mailbox.last_code()

    def someone_else_activates_first():
        assert elsewhere(app, lambda other: post_activation(other, code, password=NEW_PASSWORD)).status_code == 200

    hasher.before["hash"] = someone_else_activates_first
    response = post_activation(client, code)
    assert response.status_code == 409 and "already been used" in response.get_data(as_text=True)
    assert auth.login(password=NEW_PASSWORD, client=app.test_client()).status_code == 303
    assert auth.login(password=STRONG_PASSWORD, client=app.test_client()).status_code == 401


def test_a_code_superseded_while_the_password_was_hashed_is_refused(app, services, client, registered, mailbox, hasher):
    from domain import issuing

    def desk_issues_a_new_code():
        with app.test_request_context():
            issuing.issue_code(services, stored_account(app), "activation")

    hasher.before["hash"] = desk_issues_a_new_code
    assert post_activation(client, mailbox.last_code()).status_code == 409
    assert stored_account(app).status == "pending"
    assert post_activation(client, mailbox.last_code()).status_code == 200


def test_parallel_activations_with_one_code_open_the_account_exactly_once(app, registered, mailbox, hasher, auth):
    code = mailbox.last_code()
    passwords = [f"{STRONG_PASSWORD} {i} alma" for i in range(PARALLEL)]
    hasher.delay = 0.05  # every request is hashing when the first one writes

    responses = in_parallel(
        app, lambda i, client, barrier: post_activation(client, code, passwords[i], barrier=barrier)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (PARALLEL - 1), statuses
    hasher.delay = 0.0
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    assert auth.login(password=passwords[winner], client=app.test_client()).status_code == 303
    stored = stored_account(app).password_hash
    assert [
        PasswordHasher().verify(stored, p) if i == winner else not _verifies(stored, p) for i, p in enumerate(passwords)
    ] == [True] * PARALLEL
    outcomes = activation_outcomes(app)
    assert outcomes.count("success") == 1 and outcomes.count("used") == PARALLEL - 1
    assert stored_account(app).session_version == 2


@pytest.mark.parametrize("max_attempts, counted, void", [(5, 5, True), (20, PARALLEL, False)])
def test_parallel_wrong_codes_are_each_counted_once(
    app, services, registered, mailbox, hasher, max_attempts, counted, void
):
    services.max_attempts = max_attempts
    responses = in_parallel(app, lambda i, client, barrier: post_activation(client, "ABCDE-23456", barrier=barrier))
    assert [r.status_code for r in responses] == [400] * PARALLEL
    row = live_code_row(app)
    assert row.failed_attempts == counted
    assert (row.voided_at is not None, row.void_reason) == ((True, "attempts") if void else (False, None))
    outcomes = activation_outcomes(app)
    assert outcomes.count("code_voided") == (1 if void else 0)
    assert outcomes.count("wrong_code") == PARALLEL - outcomes.count("code_voided")
    expected = 429 if void else 200
    assert post_activation(app.test_client(), mailbox.last_code()).status_code == expected


@pytest.mark.slow  # a timing measurement (how long writes wait during the logins)
def test_logins_in_a_burst_do_not_hold_up_other_writes(app, services, registered, hasher):
    with app.app_context():
        for i in range(PARALLEL - 1):
            Account.create(
                username=f"polgar{i}",
                display_username=f"polgar{i}",
                full_name="Polgár",
                email=f"polgar{i}@example.hu",
                status="active",
                created_at=registered.account.created_at,
                password_hash=hasher.hash(STRONG_PASSWORD),
            )
    # A slow verify (like argon2, it releases the GIL): were it done under the write lock, seven logins in a
    # row would hold that lock almost all the time, and every other write would queue for about a second.
    hasher.delay = 1.0
    logins_done = threading.Event()
    writes = []

    def login_burst(i, client, barrier):
        if i == PARALLEL - 1:
            return other_writes(client, barrier)
        token = csrf_token(client, "/login")
        barrier.wait(timeout=30)
        statuses = []
        for _ in range(2):
            statuses.append(
                client.post(
                    "/login", data={"csrf_token": token, "username": f"polgar{i}", "password": STRONG_PASSWORD}
                ).status_code
            )
            token = csrf_token(client, "/login")
        return statuses

    def other_writes(client, barrier):
        token = csrf_token(client, "/forgotten-password")
        barrier.wait(timeout=30)
        time.sleep(0.2)  # the logins are verifying now
        while not logins_done.is_set() and len(writes) < 20:
            started = time.perf_counter()
            response = client.post(
                "/forgotten-password",
                data={"csrf_token": token, "username": f"senki{len(writes)}", "email": "senki@example.hu"},
                environ_base={"REMOTE_ADDR": f"192.0.2.{len(writes) + 1}"},
            )
            writes.append((response.status_code, time.perf_counter() - started))
        return []

    def burst_then_signal(i, client, barrier):
        try:
            return login_burst(i, client, barrier)
        finally:
            if i == 0:
                logins_done.set()

    results = in_parallel(app, burst_then_signal)
    assert [status for statuses in results[:-1] for status in statuses] == [303] * 2 * (PARALLEL - 1)
    assert len(writes) >= 3 and [status for status, _ in writes] == [200] * len(writes)
    typical = statistics.median(seconds for _, seconds in writes)
    assert typical < 0.5, f"writes took {typical:.2f} s (median) during the logins"
    assert hasher.inside_transaction == []


# --- targeted, conditional updates of security fields ------------------------------------------------------


def test_a_password_change_from_a_stale_read_writes_nothing(app, services, active, hasher, auth):
    with app.test_request_context():
        stale = Account.get(Account.username == USERNAME)
        now = Account.get(Account.username == USERNAME)
        assert domain.account.change_password(services, now, NEW_PASSWORD) is not None
        assert domain.account.change_password(services, stale, "harmadik jelszó a sorban, hosszú") is None
    assert stored_account(app).session_version == 3
    assert auth.login(password=NEW_PASSWORD, client=app.test_client()).status_code == 303


def test_an_email_change_racing_a_password_change_cannot_undo_it(app, active, mailbox, monkeypatch, auth):
    attacker, owner = app.test_client(), app.test_client()
    assert auth.login(client=attacker).status_code == 303 and auth.login(client=owner).status_code == 303
    checked, go = threading.Event(), threading.Event()
    real_check = domain.account.check_password
    attacker_thread = []

    def check_then_wait(services, account, password):
        ok = real_check(services, account, password)
        if threading.current_thread() in attacker_thread:
            checked.set()
            assert go.wait(timeout=30)
        return ok

    monkeypatch.setattr(domain.account, "check_password", check_then_wait)

    def attacker_changes_email():
        token = csrf_token(attacker, "/account")
        return attacker.post(
            "/account/email", data={"csrf_token": token, "email": "attacker@example.org", "password": STRONG_PASSWORD}
        )

    result = []
    thread = threading.Thread(
        target=lambda: (result.append(attacker_changes_email()), app.extensions["kapu_database"].close())
    )
    attacker_thread.append(thread)
    thread.start()
    assert checked.wait(timeout=30)
    changed = auth.change_password(client=owner)
    assert changed.status_code == 303
    go.set()
    thread.join(timeout=30)
    assert result[0].status_code == 409
    after = stored_account(app)
    assert after.session_version == 3 and after.email_change_nonce is None
    assert auth.login(password=NEW_PASSWORD, client=app.test_client()).status_code == 303
    assert auth.login(password=STRONG_PASSWORD, client=app.test_client()).status_code == 401
    assert attacker.get("/account").status_code == 303
    assert owner.get("/account").status_code == 200
    assert mailbox.messages("attacker@example.org") == []
