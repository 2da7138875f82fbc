"""The command line a clerk or operator uses: init-db, register, send-mail."""

from models import Account, AuditEvent
from tests.smtp_server import SmtpServer


def test_init_db_is_idempotent(runner):
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["init-db"]).exit_code == 0


def test_register_creates_a_pending_account_and_never_prints_the_code(runner, app, mailbox):
    result = runner.invoke(
        args=[
            "register",
            "--username",
            "Szabo.Anna",
            "--full-name",
            "Szabó Anna",
            "--email",
            "anna@example.hu",
            "--office",
            "NAV-DEB",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "anna@example.hu waits in the database: KAPU_SMTP_HOST is not set" in result.output  # no mailbox on
    code = mailbox.last_code("anna@example.hu")
    assert code not in result.output and code.replace("-", "") not in result.output
    with app.app_context():
        account = Account.get(Account.username == "szabo.anna")
        assert (account.status, account.office, account.channel) == ("pending", "NAV-DEB", "office")
        assert AuditEvent.get(AuditEvent.kind == "registration").actor == "cli"


def test_register_refuses_bad_input_and_taken_names_with_one_line(runner, registered):
    taken = runner.invoke(
        args=["register", "--username", "kovacs.janos", "--full-name", "X Y", "--email", "x@example.hu"]
    )
    assert taken.exit_code != 0 and "already taken" in taken.output
    bad = runner.invoke(args=["register", "--username", "a", "--full-name", "X", "--email", "x@example.hu"])
    assert bad.exit_code != 0 and "--username" in bad.output
    bad_mail = runner.invoke(args=["register", "--username", "abc", "--full-name", "X Y", "--email", "nope"])
    assert bad_mail.exit_code != 0 and "--email" in bad_mail.output


def test_send_mail_once_delivers_the_outbox(make_app, registered):
    server = SmtpServer().start()
    try:
        app = make_app(KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=server.port)
        result = app.test_cli_runner().invoke(args=["send-mail", "--once"])
        assert result.exit_code == 0 and "Sent 1" in result.output
        assert server.received[0]["to"] == ["janos@example.hu"]
    finally:
        server.stop()


def test_send_mail_without_smtp_says_why(runner):
    result = runner.invoke(args=["send-mail", "--once"])
    assert result.exit_code != 0 and "KAPU_SMTP_HOST" in result.output


def test_staff_add_asks_for_the_password_and_refuses_weak_ones(runner, app):
    weak = runner.invoke(
        args=["staff", "add", "--username", "clerk.one", "--role", "clerk", "--office", "BP-V-OKM"],
        input="password1234\npassword1234\n",
    )
    assert weak.exit_code != 0 and "not acceptable" in weak.output
    added = runner.invoke(
        args=["staff", "add", "--username", "clerk.one", "--role", "clerk", "--office", "BP-V-OKM"],
        input="asztal mögött ül a hivatalnok\nasztal mögött ül a hivatalnok\n",
    )
    assert added.exit_code == 0, added.output
    with app.app_context():
        account = Account.get(Account.username == "clerk.one")
        assert (account.role, account.office, account.status) == ("clerk", "BP-V-OKM", "active")
        assert account.password_hash.startswith("$argon2id$")
        assert AuditEvent.get(AuditEvent.kind == "staff_added").account_id == account.id
    again = runner.invoke(
        args=[
            "staff",
            "add",
            "--username",
            "CLERK.one",
            "--role",
            "admin",
            "--password",
            "asztal mögött ül a hivatalnok",
        ]
    )
    assert again.exit_code != 0 and "already taken" in again.output


def test_staff_add_refuses_unknown_offices_and_clerks_without_one(runner):
    unknown = runner.invoke(
        args=[
            "staff",
            "add",
            "--username",
            "clerk.two",
            "--role",
            "clerk",
            "--office",
            "NOPE",
            "--password",
            "asztal mögött ül a hivatalnok",
        ]
    )
    assert unknown.exit_code != 0 and "--office" in unknown.output
    officeless = runner.invoke(
        args=[
            "staff",
            "add",
            "--username",
            "clerk.two",
            "--role",
            "clerk",
            "--password",
            "asztal mögött ül a hivatalnok",
        ]
    )
    assert officeless.exit_code != 0 and "--office" in officeless.output


def test_init_db_demo_seeds_offices(runner, app):
    from models import Office

    result = runner.invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0 and "KONZ-WIEN" in result.output
    with app.app_context():
        assert {o.kind for o in Office.select()} == {
            "document_office",
            "government_window",
            "tax_authority",
            "consulate",
        }
