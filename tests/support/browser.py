"""What the browser tests share: Chromium, the live server, pages that fail on any console error or CSP
violation, axe, the language switch and the form helpers. Fixtures live in tests/browser/conftest.py."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.helpers import STRONG_PASSWORD, missing

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


def require_chromium():
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")


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
        self.server = waitress.create_server(
            app, host="127.0.0.1", port=port, threads=4, clear_untrusted_proxy_headers=False
        )
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


def english(path):
    return in_language(path, "en")


def submit(page, action):
    """Run *action* (a click or a key press) and wait for the form's POST page load; return its response."""

    def is_form_post(response):
        return response.request.is_navigation_request() and response.request.method == "POST"

    with page.expect_response(is_form_post) as answer:
        action()
    page.wait_for_load_state()
    return answer.value


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


def open_page(browser, base_url, **context_options):
    context = browser.new_context(base_url=base_url, locale="hu-HU", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    if context_options.get("java_script_enabled", True):
        context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    return context, page, PageProblems(page)


def checked_page(browser, base_url, **context_options):
    context, page, problems = open_page(browser, base_url, **context_options)
    yield page
    page.wait_for_timeout(50)  # let late console messages arrive
    context.close()
    assert not problems.errors, "the browser reported problems:\n" + "\n".join(problems.errors)


# Every impact counts: the pages measured clean at every level, and stay so.
BLOCKING = {"minor", "moderate", "serious", "critical"}


def axe_violations(page):
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run `make setup` (npm ci installs axe-core)")
    page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def assert_accessible(page):
    violations = axe_violations(page)
    report = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [
                {"target": n["target"], "html": n["html"], "summary": n.get("failureSummary")} for n in v["nodes"]
            ],
        }
        for v in violations
    ]
    assert not violations, f"axe found violations on {page.url}:\n" + json.dumps(report, indent=2, ensure_ascii=False)


PASSWORD_FORM = "form[action$='/account/password']"


def activate(page, username, password=STRONG_PASSWORD):
    """On an open activation page (the code filled in from the link): the username, the password twice, submit."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#password_confirm").fill(password)
    return submit(page, page.locator("#activation-form button[type=submit]").click)


def log_in(page, username, password=STRONG_PASSWORD, lands_on="/account", heading="Registration data"):
    page.goto(english("/login"))
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"**{lands_on}")
    expect(page.locator("h1")).to_have_text(heading)
