"""Real-browser fixtures: the app served by waitress on a free local port, and Debian's headless Chromium.

No browser is ever downloaded: Playwright drives /usr/bin/chromium. Each test gets a fresh browser
context; the `page` fixtures fail the test on any console error (CSP violations included) or page error.

The live app runs on SQLite; a test marked `both_databases` (the core journey) runs on SQLite and on the
PostgreSQL server of tests/postgres_server.py, once each (`--databases` narrows it as for the other tests).
"""

from __future__ import annotations

import uuid

import pytest

import db
from app import create_app
from tests.smtp_server import free_port
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, checked_page, require_chromium
from tests.support.helpers import FAST_HASHER, STRONG_PASSWORD, Mailbox

BROWSER_DATABASES = ("sqlite", "postgresql")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_databases: a browser test run on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc):
    if "browser_database" not in metafunc.fixturenames or not metafunc.definition.get_closest_marker("both_databases"):
        return
    kinds = [k for k in metafunc.config.getoption("databases").split(",") if k in BROWSER_DATABASES]
    metafunc.parametrize("browser_database", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def browser_database(request):
    """The live app's database: SQLite, or the one a `both_databases` test is parametrised with."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def live_database_url(request, browser_database, tmp_path_factory):
    """A new, empty database of that kind (dropped at the end); a missing PostgreSQL fails under CI=true."""
    if browser_database == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'kapu.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, live_database_url):
    require_chromium()
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    app = create_app(
        {
            "TESTING": True,
            "KAPU_DATABASE_URL": live_database_url,
            "KAPU_SECRET_KEY": "browser-test-secret-key-long-enough",
            "KAPU_BASE_URL": f"http://127.0.0.1:{port}",
            "KAPU_SMTP_HOST": "",
            # The default language stays Hungarian; tests that read English messages add ?lang=en.
            "KAPU_LANGUAGE": "hu",
            "PASSWORD_HASHER": FAST_HASHER,
        }
    )
    app.instance_path = str(tmp / "instance")
    yield app
    db.close_all(app.extensions["kapu_database"])


@pytest.fixture(scope="session")
def live_server(live_app):
    server = LiveServer(live_app).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server.url


@pytest.fixture(scope="session")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(headless=True, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url):
    yield from checked_page(browser, base_url)


@pytest.fixture
def page_nojs(browser, base_url):
    yield from checked_page(browser, base_url, java_script_enabled=False)


@pytest.fixture
def axe_page(browser, base_url):
    """A page whose context bypasses CSP so axe-core can be injected; only the accessibility tests use it."""
    yield from checked_page(browser, base_url, bypass_csp=True)


@pytest.fixture(scope="session")
def live_mailbox(live_app):
    return Mailbox(live_app, live_app.config["KAPU_BASE_URL"])


class Registration:
    def __init__(self, username, email, code, link):
        self.username, self.email, self.code, self.link = username, email, code, link

    def __repr__(self):
        return f"Registration({self.username!r})"


@pytest.fixture
def register(live_app, live_mailbox):
    """Register a pending account at an office (unique username) and read its code and link from the outbox."""
    from domain import registration

    def make(prefix="polgar"):
        suffix = uuid.uuid4().hex[:8]
        username = f"{prefix}.{suffix}"
        email = f"{username}@example.hu"
        services = live_app.extensions["kapu"]
        with live_app.test_request_context():
            result = registration.register(
                services, username=username, full_name="Teszt Polgár", email=email, language="hu", channel="office"
            )
        assert not result.taken
        return Registration(username, email, live_mailbox.last_code(email), live_mailbox.last_link(email))

    return make


@pytest.fixture
def registered(register):
    return register()


@pytest.fixture
def citizen(live_app, registered):
    """An activated account (activated through the domain: the browser journey has its own tests)."""
    from domain import activation

    with live_app.test_request_context():
        outcome = activation.activate(
            live_app.extensions["kapu"], registered.username, registered.code, STRONG_PASSWORD
        )
    assert outcome is activation.Outcome.ACTIVATED
    return registered
