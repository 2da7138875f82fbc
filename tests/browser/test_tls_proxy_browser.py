"""Kapu behind a real TLS-terminating nginx, driven by headless Chromium: behind an https
proxy the session cookie is Secure and __Host- prefixed, and CSRF protection checks the Referer.

The app runs with `KAPU_BASE_URL=https://127.0.0.1:<nginx port>` and `KAPU_TRUSTED_PROXIES=127.0.0.1`, so it
knows it is on https: Flask-WTF's strict Referer check applies to every POST and the session cookie is
`__Host-session`. Every form, live check and link must still work; a cross-site POST must not.
"""

from __future__ import annotations

import http.client
import re
import ssl
import uuid

import pytest
from playwright.sync_api import expect

import models
from app import create_app
from models import AuditEvent
from tests.smtp_server import free_port
from tests.support.browser import TIMEOUT_MS, LiveServer, checked_page, submit
from tests.support.helpers import FAST_HASHER, STRONG_PASSWORD, Mailbox
from tests.support.tls_proxy import TlsProxy, require_nginx

pytestmark = pytest.mark.browser

EMAIL_FORM = "form[action$='/account/email']"


class Site:
    def __init__(self, app, proxy):
        self.app, self.proxy, self.url = app, proxy, proxy.url
        self.mailbox = Mailbox(app, app.config["KAPU_BASE_URL"])

    def audit(self, kind):
        with self.app.app_context():
            return list(AuditEvent.select().where(AuditEvent.kind == kind).order_by(AuditEvent.id))


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory, browser):
    """Kapu (waitress, plain http on loopback) with nginx terminating TLS in front of it."""
    require_nginx()
    tmp = tmp_path_factory.mktemp("tls")
    proxy_port, app_port = free_port(), free_port()
    previous_database = models.database.obj  # the session's live app, if one runs: given back at the end
    app = create_app(
        {
            "TESTING": True,
            "KAPU_DATABASE_URL": f"sqlite:///{tmp / 'kapu.db'}",
            "KAPU_SECRET_KEY": "tls-proxy-test-secret-key-long-enough",
            "KAPU_BASE_URL": f"https://127.0.0.1:{proxy_port}",
            "KAPU_TRUSTED_PROXIES": "127.0.0.1",
            "KAPU_DEV_MAILBOX": "1",  # on, yet refused: the base URL is https
            "KAPU_SMTP_HOST": "",
            "KAPU_LANGUAGE": "en",
            "PASSWORD_HASHER": FAST_HASHER,
        }
    )
    app.instance_path = str(tmp / "instance")
    server = LiveServer(app, port=app_port).start()
    proxy = TlsProxy(tmp / "nginx", upstream_port=app_port, port=proxy_port)
    try:
        proxy.start()
        yield Site(app, proxy)
    finally:
        proxy.close()
        server.close()
        app.extensions["kapu_database"].close()
        if previous_database is not None:
            models.database.initialize(previous_database)


@pytest.fixture
def tls_page(browser, tls_site):
    for page in checked_page(browser, tls_site.url, ignore_https_errors=True):
        page.set_default_timeout(3 * TIMEOUT_MS)  # a TLS handshake and a second server on a busy machine
        page.set_default_navigation_timeout(3 * TIMEOUT_MS)
        yield page


def register_online(page, site):
    username = f"tls.{uuid.uuid4().hex[:8]}"
    email = f"{username}@example.hu"
    page.goto("/register")
    page.locator("#username").fill(username)
    page.locator("#full_name").fill("Teszt Polgár")
    page.locator("#email").fill(email)
    response = submit(page, page.locator("main form button[type=submit]").click)
    assert response.status == 200, response.status
    expect(page.locator("h1")).to_have_text("Check your mailbox")
    return username, email


def activate_from_the_link(page, site, username, email):
    link = site.mailbox.last_link(email)
    page.goto(link)
    expect(page.locator("#code")).to_have_value(site.mailbox.last_code(email))
    page.locator("#username").fill(username)
    page.locator("#password").fill(STRONG_PASSWORD)
    # The live check: an htmx POST (token in a header) that answers with a partial, over https.
    confirm, error = page.locator("#password_confirm"), page.locator("#password_confirm-error")
    with page.expect_response(lambda r: "/check/" in r.url and r.request.method == "POST") as check:
        confirm.press_sequentially("not the same one")
        confirm.blur()
    assert check.value.status == 200
    expect(error).to_contain_text("do not match")
    confirm.fill(STRONG_PASSWORD)
    confirm.blur()
    expect(error).to_have_text("")
    response = submit(page, page.locator("#activation-form button[type=submit]").click)
    assert response.status == 200, response.status
    expect(page.locator("h1")).to_have_text("Your account is open")


def log_in(page, username):
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(STRONG_PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/account")
    expect(page.locator("h1")).to_have_text("Registration data")


def session_cookie(page):
    [cookie] = [c for c in page.context.cookies() if "session" in c["name"]]
    return cookie


def test_activation_login_live_check_and_email_change_work_over_https(tls_page, tls_site):
    page = tls_page
    username, email = register_online(page, tls_site)
    activate_from_the_link(page, tls_site, username, email)

    log_in(page, username)
    cookie = session_cookie(page)
    assert cookie["name"] == "__Host-session" and cookie["secure"] and cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax" and cookie["path"] == "/"

    new_email = f"uj.{uuid.uuid4().hex[:8]}@pelda.hu"
    form = page.locator(EMAIL_FORM)
    form.locator("input[name=email]").fill(new_email)
    form.locator("input[name=password]").fill(STRONG_PASSWORD)
    assert submit(page, form.locator("button[type=submit]").click).status == 303
    expect(page.locator("main [role=status]")).to_contain_text(f"We sent a confirmation link to {new_email}")
    link = re.search(
        re.escape(tls_site.url) + r"(/account/email/confirm/\S+)", tls_site.mailbox.last_text(new_email)
    ).group(1)
    page.goto(link)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/account/email/confirmed"))
    expect(page.locator("h1")).to_have_text("E-mail address changed")

    # Every step was seen at the citizen's address (through the trusted proxy), and no form was refused.
    assert [e.outcome for e in tls_site.audit("csrf")] == []
    assert {e.client_address for e in tls_site.audit("login")} == {"127.0.0.1"}
    assert [e.outcome for e in tls_site.audit("email_change")][-1] == "confirmed"
    assert '"POST /login HTTP/1.1" 303' in tls_site.proxy.access_log()  # it really went through nginx


def test_a_cross_site_post_is_refused_even_with_a_valid_token_and_cookie(tls_page, tls_site):
    """Another origin on the same host (another port: the same *site*, so the Lax cookie goes along) posts a
    form with the victim's own token, as if it had leaked: the Origin check refuses it, nothing changes."""
    page = tls_page
    username, email = register_online(page, tls_site)
    activate_from_the_link(page, tls_site, username, email)
    log_in(page, username)
    token = page.locator(f"{EMAIL_FORM} input[name=csrf_token]").get_attribute("value")

    evil_origin = f"https://127.0.0.1:{free_port()}"
    evil_form = (
        f'<!doctype html><title>win</title><form method="post" action="{tls_site.url}/account/email">'
        f'<input name="csrf_token" value="{token}"><input name="email" value="evil@example.com">'
        f'<input name="password" value="{STRONG_PASSWORD}"><button>Win a prize</button></form>'
    )
    # The attacker's page lives in the victim's browser context (same cookies): route it to a canned page.
    page.route(f"{evil_origin}/**", lambda route: route.fulfill(status=200, content_type="text/html", body=evil_form))
    page.goto(f"{evil_origin}/prize")
    with page.expect_response(lambda r: r.url.endswith("/account/email")) as answer:
        page.locator("button").click()
    assert answer.value.status == 400
    expect(page.locator("main")).to_contain_text("not sent from this site")

    assert "email_change_confirm" not in [m.kind for m, _ in tls_site.mailbox.messages("evil@example.com")]
    refused = tls_site.audit("csrf")[-1]
    assert refused.outcome == "refused" and "another site" in refused.detail
    assert refused.client_address == "127.0.0.1"

    # The same session, on its own site, still works: the refusal was about where the POST came from.
    page.goto("/account")
    expect(page.locator("h1")).to_have_text("Registration data")


def https_request(site, method, path, source="127.0.0.1", headers=None, body=None):
    """One request through nginx from a chosen loopback source address (each is a different real client)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(
        "127.0.0.1", site.proxy.port, context=context, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def login_through_nginx(site, source, spoof, referer=True):
    status, headers, page = https_request(site, "GET", "/login", source=source, headers={"X-Forwarded-For": spoof})
    assert status == 200 and "max-age=" in headers["Strict-Transport-Security"]
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    assert cookie.startswith("__Host-session=")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    sent = {"X-Forwarded-For": spoof, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    if referer:
        sent["Referer"] = f"{site.url}/login"
    return https_request(
        site,
        "POST",
        "/login",
        source=source,
        headers=sent,
        body=f"csrf_token={token}&username=nobody.{source[-1]}&password=wrong+password",
    )[0]


def test_through_nginx_each_client_is_itself_and_cannot_claim_another_address(tls_site):
    assert login_through_nginx(tls_site, "127.0.0.2", spoof="203.0.113.1") == 401
    assert login_through_nginx(tls_site, "127.0.0.3", spoof="127.0.0.1") == 401
    assert [e.client_address for e in tls_site.audit("login")][-2:] == ["127.0.0.2", "127.0.0.3"]


def test_kapu_knows_it_is_on_https_behind_the_trusted_proxy(tls_site):
    """X-Forwarded-Proto from nginx counts, so Flask-WTF's strict check runs: no same-origin Referer, no POST."""
    assert login_through_nginx(tls_site, "127.0.0.4", spoof="", referer=False) == 400
    refused = tls_site.audit("csrf")[-1]
    assert "referrer header is missing" in refused.detail and refused.client_address == "127.0.0.4"


def test_live_checks_through_nginx_keep_the_strict_referer_check_and_count_each_client(tls_site):
    status, headers, page = https_request(tls_site, "GET", "/activate", source="127.0.0.7")
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    sent = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": token}

    def check(source, referer=True):
        extra = {"Referer": f"{tls_site.url}/activate"} if referer else {}
        return https_request(
            tls_site, "POST", "/activate/check/password", source, {**sent, **extra}, body="password=r%C3%B6vid"
        )

    status, headers, body = check("127.0.0.7")
    assert status == 200 and "at least 15 characters" in body
    assert "max-age=" in headers["Strict-Transport-Security"] and headers["Cache-Control"] == "no-store"
    assert check("127.0.0.7", referer=False)[0] == 400  # over https, no same-origin Referer: refused
    assert "referrer header is missing" in tls_site.audit("csrf")[-1].detail
    limit = tls_site.app.config["KAPU_CLIENT_CHECKS_PER_MINUTE"]
    assert [check("127.0.0.7")[0] for _ in range(limit - 1)] == [200] * (limit - 1)
    assert check("127.0.0.7")[0] == 429  # the client behind nginx is counted, not nginx
    assert check("127.0.0.8")[0] == 200


def test_the_dev_mailbox_is_refused_through_the_proxy(tls_site):
    assert https_request(tls_site, "GET", "/dev/mailbox")[0] == 404
