"""SMTP over TLS with real certificates (trustme) and a real aiosmtpd server: verified, or nothing is sent."""

import ssl
import warnings

import pytest
import trustme

from config import ConfigError, load
from domain import delivery, registration
from domain.delivery import PlaintextLoginRefused, SmtpSettings
from models import OutboxMessage
from tests.smtp_server import SmtpServer


@pytest.fixture(scope="module")
def private_ca():
    return trustme.CA()


def server_context(ca, *names):
    """A server-side TLS context with a certificate from *ca* for *names*."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
def ca_file(private_ca, tmp_path):
    path = tmp_path / "private-ca.pem"
    private_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def run_server():
    servers = []

    def start(**options):
        server = SmtpServer(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def smtp_app(make_app, server, **settings):
    app = make_app(KAPU_SMTP_HOST="127.0.0.1", KAPU_SMTP_PORT=server.port, **settings)
    with app.app_context():
        registration.register(
            app.extensions["kapu"],
            username="kovacs.janos",
            full_name="Kovács János",
            email="janos@example.hu",
            language="en",
            channel="office",
        )
    return app


def deliver(app):
    with app.app_context():
        sent = delivery.deliver_due(app.extensions["kapu"], SmtpSettings.from_config(app.config))
        message = OutboxMessage.get()
        return sent, message.status, message.last_error or ""


def test_starttls_to_a_certificate_from_an_unknown_ca_is_refused(make_app, run_server, private_ca):
    server = run_server(starttls_context=server_context(private_ca, "127.0.0.1"))
    app = smtp_app(make_app, server, KAPU_SMTP_STARTTLS="1")
    sent, status, error = deliver(app)
    assert (sent, status) == (0, "pending") and "CERTIFICATE_VERIFY_FAILED" in error
    assert server.received == []


def test_starttls_to_a_certificate_for_another_name_is_refused_even_from_a_trusted_ca(
    make_app, run_server, private_ca, ca_file
):
    server = run_server(starttls_context=server_context(private_ca, "evil.example"))
    app = smtp_app(make_app, server, KAPU_SMTP_STARTTLS="1", KAPU_SMTP_CA_FILE=ca_file)
    sent, status, error = deliver(app)
    assert (sent, status) == (0, "pending") and "match" in error.lower()
    assert server.received == []


def test_starttls_with_the_private_ca_configured_delivers(make_app, run_server, private_ca, ca_file):
    server = run_server(starttls_context=server_context(private_ca, "127.0.0.1"), auth=True)
    app = smtp_app(
        make_app,
        server,
        KAPU_SMTP_STARTTLS="1",
        KAPU_SMTP_CA_FILE=ca_file,
        KAPU_SMTP_USERNAME="kapu",
        KAPU_SMTP_PASSWORD="smtp-secret",
    )
    assert deliver(app)[:2] == (1, "sent")
    assert [m["to"] for m in server.received] == [["janos@example.hu"]]
    assert [(login, password, tls) for _, login, password, tls in server.authenticator.logins] == [
        (b"kapu", b"smtp-secret", True)
    ]


def test_starttls_that_the_server_does_not_offer_is_not_skipped(make_app, run_server):
    server = run_server()
    app = smtp_app(make_app, server, KAPU_SMTP_STARTTLS="1")
    sent, status, error = deliver(app)
    assert (sent, status) == (0, "pending") and "STARTTLS" in error
    assert server.received == []


def test_implicit_tls_delivers(make_app, run_server, private_ca, ca_file):
    server = run_server(implicit_tls_context=server_context(private_ca, "127.0.0.1"), auth=True)
    app = smtp_app(
        make_app,
        server,
        KAPU_SMTP_TLS="1",
        KAPU_SMTP_CA_FILE=ca_file,
        KAPU_SMTP_USERNAME="kapu",
        KAPU_SMTP_PASSWORD="smtp-secret",
    )
    assert deliver(app)[:2] == (1, "sent")
    assert len(server.received) == 1
    assert [(login, password, tls) for _, login, password, tls in server.authenticator.logins] == [
        (b"kapu", b"smtp-secret", True)
    ]


def test_implicit_tls_to_an_unverified_certificate_is_refused(make_app, run_server, private_ca):
    server = run_server(implicit_tls_context=server_context(private_ca, "127.0.0.1"))
    app = smtp_app(make_app, server, KAPU_SMTP_TLS="1")
    sent, status, error = deliver(app)
    assert (sent, status) == (0, "pending") and "CERTIFICATE_VERIFY_FAILED" in error
    assert server.received == []


def test_login_over_plain_text_is_a_configuration_error():
    with pytest.raises(ConfigError, match="KAPU_SMTP_USERNAME .*KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN"):
        load(
            {
                "KAPU_SMTP_HOST": "mail.example.hu",
                "KAPU_SMTP_USERNAME": "kapu",
                "KAPU_SMTP_PASSWORD": "x",
                "KAPU_SECRET_KEY": "k" * 20,
            }
        )


def test_the_transport_itself_never_sends_a_password_in_clear(make_app, run_server):
    server = run_server(auth=True)  # a careless server that offers AUTH without TLS
    transport = SmtpSettings(host="127.0.0.1", port=server.port, username="kapu", password="smtp-secret")
    app = smtp_app(make_app, server)
    with app.app_context():
        message = delivery.build_email(app.extensions["kapu"], OutboxMessage.get())
    with pytest.raises(PlaintextLoginRefused):
        transport.send(message)
    assert server.authenticator.logins == [] and server.received == []


def test_plain_text_login_only_when_explicitly_allowed(make_app, run_server):
    server = run_server(auth=True)
    app = smtp_app(
        make_app,
        server,
        KAPU_SMTP_USERNAME="kapu",
        KAPU_SMTP_PASSWORD="smtp-secret",
        KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN="1",
    )
    assert deliver(app)[:2] == (1, "sent")
    assert [(login, tls) for _, login, _, tls in server.authenticator.logins] == [(b"kapu", False)]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"KAPU_SMTP_TLS": "1", "KAPU_SMTP_STARTTLS": "1"}, "KAPU_SMTP_TLS"),
        ({"KAPU_SMTP_TLS": "maybe"}, "KAPU_SMTP_TLS"),
        ({"KAPU_SMTP_CA_FILE": "/no/such/ca.pem"}, "KAPU_SMTP_CA_FILE"),
        ({"KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN": "sure"}, "KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN"),
    ],
)
def test_bad_tls_settings_are_one_clear_line(env, message):
    with pytest.raises(ConfigError, match=message):
        load({"KAPU_SMTP_HOST": "mail.example.hu", "KAPU_SECRET_KEY": "k" * 20, **env})


def test_implicit_tls_defaults_to_port_465():
    settings = load({"KAPU_SMTP_HOST": "mail.example.hu", "KAPU_SMTP_TLS": "1", "KAPU_SECRET_KEY": "k" * 20})
    assert settings["KAPU_SMTP_PORT"] == 465
    assert load({"KAPU_SMTP_HOST": "m.example.hu", "KAPU_SECRET_KEY": "k" * 20})["KAPU_SMTP_PORT"] == 25


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with warnings.catch_warnings(), pytest.raises(ConfigError, match="KAPU_SMTP_CA_FILE"):
        load({"KAPU_SMTP_HOST": "mail.example.hu", "KAPU_SMTP_CA_FILE": str(junk), "KAPU_SECRET_KEY": "k" * 20})
