"""Real-browser fixtures: the app served by waitress on a free local port, and Debian's headless Chromium.

No browser is ever downloaded: Playwright drives /usr/bin/chromium. Each test gets a fresh browser
context; the `page` fixtures fail the test on any console error (CSP violations included) or page error.

The live app runs on SQLite; a test marked `both_databases` (the core journey) runs on SQLite and on the
PostgreSQL server of tests/postgres_server.py, once each (`--databases` narrows it as for the other tests).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from pathlib import Path

import pytest

import db
from app import create_app
from tests.support.helpers import FAST_HASHER, Mailbox

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 5_000

LANGUAGES = ["hu", "en"]  # every page a browser test checks, it checks in both


def in_language(path, language):
    """*path* asked for in *language* (the ?lang= switch; the choice then holds for the session)."""
    return f"{path}{'&' if '?' in path else '?'}lang={language}"


def _require_chromium():
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """The app behind waitress in a daemon thread; the loop runs in small steps so it can stop cleanly."""

    def __init__(self, app, port=None):
        """Listen on *port*, by default the one in KAPU_BASE_URL (a proxy in front listens there instead)."""
        import waitress
        from waitress import wasyncore

        self._wasyncore = wasyncore
        self.app = app
        base = app.config["KAPU_BASE_URL"]
        port = port or int(base.rsplit(":", 1)[1])
        # As `serve` does: forwarding headers reach Kapu, which decides whether they count (KAPU_TRUSTED_PROXIES).
        self.server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4,
                                             clear_untrusted_proxy_headers=False)
        self.url = f"http://127.0.0.1:{int(self.server.effective_port)}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="kapu-live-server", daemon=True)

    def _serve(self):
        socket_map = self.server._map
        while not self._stop.is_set():
            self._wasyncore.loop(timeout=0.05, map=socket_map, use_poll=True, count=1)
        self.server.task_dispatcher.shutdown()
        self._wasyncore.close_all(socket_map)

    def start(self):
        self._thread.start()
        return self

    def close(self):
        self._stop.set()
        self._thread.join(timeout=10)


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
    _require_chromium()
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
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
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(headless=True, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen by one page."""

    FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})")

    def __init__(self, page):
        self.errors: list[str] = []
        self.navigations: set[str] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("response", self._response)

    def _response(self, response):
        # A deliberate 4xx answer to a page load is the app's contract (422 for a failed form, 400 for a bad
        # link); the browser logs it as "Failed to load resource", which is not a fault of the page.
        if response.request.is_navigation_request():
            self.navigations.add(response.url)

    def _console(self, message):
        if message.type != "error":
            return
        text = message.text
        location = (message.location or {}).get("url", "")
        if self.FAILED_LOAD.match(text) and (location in self.navigations or location.endswith("/favicon.ico")):
            return  # the browser asks for /favicon.ico on its own; the app has none (not a page fault)
        self.errors.append(f"console error: {text} ({location})")


# Runs before any page script: reports CSP violations explicitly too (not only Chromium's console line).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _open_page(browser, base_url, **context_options):
    context = browser.new_context(base_url=base_url, locale="hu-HU", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    if context_options.get("java_script_enabled", True):
        context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    return context, page, PageProblems(page)


def _checked_page(browser, base_url, **context_options):
    context, page, problems = _open_page(browser, base_url, **context_options)
    yield page
    page.wait_for_timeout(50)  # let late console messages arrive
    context.close()
    assert not problems.errors, "the browser reported problems:\n" + "\n".join(problems.errors)


@pytest.fixture
def page(browser, base_url):
    yield from _checked_page(browser, base_url)


@pytest.fixture
def page_nojs(browser, base_url):
    yield from _checked_page(browser, base_url, java_script_enabled=False)


@pytest.fixture
def axe_page(browser, base_url):
    """A page whose context bypasses CSP so axe-core can be injected; only the accessibility tests use it."""
    yield from _checked_page(browser, base_url, bypass_csp=True)


class LiveMailbox(Mailbox):
    """The outbox reader of tests/conftest.py, with links pointing at the live server."""

    def __init__(self, app):
        super().__init__(app)
        self.base_url = app.config["KAPU_BASE_URL"]

    def last_link(self, recipient=None):
        pattern = re.escape(self.base_url) + r"(/activate/\S+)"
        return re.search(pattern, self.last_text(recipient)).group(1)


@pytest.fixture(scope="session")
def live_mailbox(live_app):
    return LiveMailbox(live_app)


class Registration:
    def __init__(self, username, email, code, link):
        self.username, self.email, self.code, self.link = username, email, code, link

    def __repr__(self):
        return f"Registration({self.username!r})"


@pytest.fixture
def register(live_app, live_mailbox):
    """Register a pending account at an office (unique username) and read its code and link from the outbox."""
    from domain import accounts

    def make(prefix="polgar"):
        suffix = uuid.uuid4().hex[:8]
        username = f"{prefix}.{suffix}"
        email = f"{username}@example.hu"
        services = live_app.extensions["kapu"]
        with live_app.test_request_context():
            result = accounts.register(
                services, username=username, full_name="Teszt Polgár", email=email, language="hu", channel="office"
            )
        assert not result.taken
        return Registration(
            username, email, live_mailbox.last_code(email), live_mailbox.last_link(email)
        )

    return make


@pytest.fixture
def registered(register):
    return register()
