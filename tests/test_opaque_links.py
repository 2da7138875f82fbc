"""The e-mail link is opaque and answers with a redirect to the clean /activate, which keeps the code."""

import base64
import re

from domain import codes, issuing
from domain.links import CodeLinks
from models import Account, AuditEvent, OneTimeCode, OutboxMessage
from tests.support.helpers import SECRET_KEY


def token_of(link):
    return link.rsplit("/", 1)[1]


def decoded_payload(token):
    payload = token.split(".")[0]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def code_value(html):
    match = re.search(r'<input[^>]*name="code"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else None


def state(app):
    """Everything a link opening must leave alone: accounts, codes, mail."""
    with app.app_context():
        return (
            [a.__data__ for a in Account.select().order_by(Account.id)],
            [c.__data__ for c in OneTimeCode.select().order_by(OneTimeCode.id)],
            [m.__data__ for m in OutboxMessage.select().order_by(OutboxMessage.id)],
        )


def test_the_code_is_not_readable_in_the_link(registered, mailbox):
    code = mailbox.last_code()
    token = token_of(mailbox.last_link())
    for form in (code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()):
        assert form not in token
        assert form.encode() not in decoded_payload(token)
        assert form.encode() not in decoded_payload(token).lower()


def test_the_link_redirects_to_the_clean_form_which_shows_the_code(client, registered, mailbox):
    link = mailbox.last_link()
    response = client.get(link)
    assert response.status_code == 303
    assert response.headers["Location"] == "/activate"
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get("/activate")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert code_value(html) == mailbox.last_code()
    assert token_of(link) not in html  # the token left the page as well as the address bar
    assert "<script" not in html.split("<form", 1)[1].split("</form>", 1)[0]  # a plain form: works without JS
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", html)  # the deadline


def test_without_a_link_the_form_is_empty(client, registered, mailbox):
    assert code_value(client.get("/activate").get_data(as_text=True)) == ""
    other = client.application.test_client()
    other.get(mailbox.last_link())
    assert code_value(client.get("/activate").get_data(as_text=True)) == ""  # the code lives in one session


def test_get_and_head_change_nothing_then_activation_works(app, client, registered, mailbox, auth):
    before = state(app)
    link = mailbox.last_link()
    for _ in range(2):
        assert client.get(link).status_code == 303
        assert client.head(link).status_code == 303
        assert app.test_client().get(link, follow_redirects=True).status_code == 200  # a scanner with no cookie
    assert state(app) == before
    with app.app_context():
        assert AuditEvent.select().where(AuditEvent.kind == "link_opened").count() == 6
    assert auth.activate(mailbox.last_code()).status_code == 200


def test_after_activation_the_link_is_dead_and_the_form_forgets_the_code(client, registered, mailbox, auth):
    link = mailbox.last_link()
    client.get(link)
    assert auth.activate(code_value(client.get("/activate").get_data(as_text=True))).status_code == 200
    assert code_value(client.get("/activate").get_data(as_text=True)) == ""
    dead = client.get(link)
    assert dead.status_code == 409
    assert "already been used" in dead.get_data(as_text=True)


def test_a_superseded_code_is_no_longer_filled_in(app, services, client, registered, mailbox):
    client.get(mailbox.last_link())
    with app.test_request_context():
        issuing.issue_code(services, Account.get(Account.username == "kovacs.janos"), "reset")
    assert code_value(client.get("/activate").get_data(as_text=True)) == ""


def test_expired_is_410_and_invalid_is_400(client, services, registered, mailbox, frozen_clock):
    link = mailbox.last_link()
    token = token_of(link)
    payload = services.activation_links._signer.check(token).data
    foreign_salt = services.email_links.sign(payload)  # the right key, another purpose
    for bad, status in (
        (token[:-3], 400),
        (token[: len(token) // 2], 400),
        (token.replace(".", "x", 1), 400),
        (foreign_salt, 400),
    ):
        response = client.get(f"/activate/{bad}")
        assert response.status_code == status, bad
        assert "broken or incomplete" in response.get_data(as_text=True)
        assert code_value(response.get_data(as_text=True)) == ""
    frozen_clock.advance(days=3, seconds=1)
    expired = client.get(link)
    assert expired.status_code == 410
    assert "expired" in expired.get_data(as_text=True) and 'href="/forgotten-password"' in expired.get_data(
        as_text=True
    )


def test_a_link_signed_long_ago_is_expired_by_its_signature(client, registered, mailbox, monkeypatch):
    import itsdangerous.timed

    link = mailbox.last_link()
    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 259200 + 5)
    assert client.get(link).status_code == 410


def test_a_sealed_code_opens_only_for_its_own_row_and_purpose():
    links = CodeLinks(SECRET_KEY, "activate", max_age=60)
    token = links.make(7, "ABCDE23456")
    assert links.read(token).data.code == "ABCDE23456" and links.read(token).data.row_id == 7
    sealed = links._signer._serializer.loads(token)[1]
    moved = links._signer.sign([8, sealed])  # a validly signed token naming another row
    assert links.read(moved).status == "invalid"
    assert CodeLinks(SECRET_KEY, "reset", max_age=60).read(token).status == "invalid"
    assert CodeLinks("another-secret-key-long-enough", "activate", max_age=60).read(token).status == "invalid"
    assert links.make(7, "ABCDE23456") != token  # a fresh nonce each time


# ------------------------------------------------------------------- per-row salt and erased mail bodies


def test_code_hashes_are_salted_per_row(app, services, registered, mailbox):
    with app.app_context():
        row = OneTimeCode.get()
    assert row.code_salt and len(row.code_salt) == 32
    code = codes.normalise(mailbox.last_code())
    assert row.code_hash == codes.keyed_hash(services.code_key, code, row.code_salt)
    assert row.code_hash != codes.keyed_hash(services.code_key, code)
    assert codes.keyed_hash(services.code_key, code, codes.new_salt()) != codes.keyed_hash(
        services.code_key, code, codes.new_salt()
    )


def test_a_code_stored_before_salts_still_activates(app, services, registered, mailbox, auth):
    code = codes.normalise(mailbox.last_code())
    with app.app_context():  # the row as the earlier code wrote it: unsalted hash, no salt
        OneTimeCode.update(code_hash=codes.keyed_hash(services.code_key, code), code_salt=None).execute()
    assert auth.activate("ABCDE-23456").status_code == 400
    assert auth.activate(mailbox.last_code()).status_code == 200


def test_the_salt_migration_step_adds_the_column_and_keeps_the_released_rows(tmp_path):
    """The released database's mailed code keeps a NULL salt (so it still verifies unsalted; the
    activation after upgrade is proved in tests/test_migrations.py)."""
    import sqlite3

    import migrations
    from tests.support.helpers import open_sqlite, released_database

    path = released_database(tmp_path / "kapu.db")
    database = open_sqlite(path)
    assert 3 in migrations.upgrade(database)
    database.close()
    with sqlite3.connect(path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(one_time_code)")]
        rows = connection.execute("SELECT code_hash, code_salt FROM one_time_code").fetchall()
    assert "code_salt" in columns
    assert rows and all(len(code_hash) == 64 and salt is None for code_hash, salt in rows)


def test_a_sent_mail_no_longer_holds_its_sealed_body(app, registered):
    from domain import outbox

    with app.app_context():
        message = OutboxMessage.get()
        assert message.sealed_body
        outbox.mark_sent(message)
        sent = OutboxMessage.get_by_id(message.id)
    assert sent.status == "sent" and sent.sealed_body is None
    assert sent.subject and sent.recipient == "janos@example.hu" and sent.sent_at


def test_the_upgrade_erases_the_bodies_that_mail_sent_by_the_release_still_holds(tmp_path):
    """The released version kept a sent message's sealed body (and its code); migrating erases it once, and
    keeps the record and every body still waiting to go."""
    import sqlite3

    import migrations
    from tests.support.helpers import open_sqlite, released_database

    path = released_database(tmp_path / "kapu.db")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE outbox_message SET status = 'sent'")
        connection.execute(
            "INSERT INTO outbox_message (kind, recipient, subject, sealed_body, account_id, created_at, status,"
            " attempts, next_attempt_at, message_id) SELECT kind, recipient, subject, sealed_body, account_id,"
            " created_at, 'pending', 0, next_attempt_at, '<waiting@localhost>' FROM outbox_message"
        )
    database = open_sqlite(path)
    assert 9 in migrations.upgrade(database)
    database.close()
    with sqlite3.connect(path) as connection:
        rows = dict(connection.execute("SELECT status, sealed_body FROM outbox_message").fetchall())
    assert set(rows) == {"sent", "pending"}
    assert rows["sent"] is None and rows["pending"].startswith("gAAAA")


def test_a_message_given_up_on_loses_its_body(app, registered):
    from domain import outbox

    with app.app_context():
        outbox.mark_undeliverable(OutboxMessage.get(), "cannot be decrypted")
        message = OutboxMessage.get()
    assert message.status == "failed" and message.sealed_body is None
