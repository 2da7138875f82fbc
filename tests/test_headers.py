"""Security headers, cookies and CSRF on every page."""

import re

import pytest

from app import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from models import AuditEvent
from tests.support.helpers import csrf_token


@pytest.mark.parametrize("path", ["/", "/activate", "/register", "/login", "/healthz", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Permissions-Policy"] == PERMISSIONS_POLICY and "camera=()" in PERMISSIONS_POLICY
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers


def test_pages_carry_no_inline_script_or_style_and_configure_htmx(client):
    html = client.get("/activate").get_data(as_text=True)
    assert '<meta name="htmx-config"' in html and '"includeIndicatorCSS": false' in html
    assert "<script>" not in html and "<style" not in html and " style=" not in html and "hx-on" not in html
    assert 'hx-headers:inherited=\'{"X-CSRFToken": "' in html


def test_session_cookie_is_httponly_and_lax(client):
    client.get("/activate")
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_https_base_url_gives_a_secure_host_prefixed_cookie_and_hsts(make_app):
    app = make_app(KAPU_BASE_URL="https://kapu.example.hu")
    client = app.test_client()
    response = client.get("/activate", base_url="https://kapu.example.hu")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    set_cookie = response.headers["Set-Cookie"]
    # __Host-: Secure, Path=/, no Domain, so no other host (a sibling subdomain) can set or read it.
    assert set_cookie.startswith("__Host-session=") and "Secure" in set_cookie and "Path=/" in set_cookie
    assert "Domain" not in set_cookie
    assert client.get_cookie("session", domain="kapu.example.hu") is None
    # The cookie carries the session: a form read over https posts back with its token.
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    posted = client.post(
        "/login",
        base_url="https://kapu.example.hu",
        data={"csrf_token": token, "username": "nobody.here", "password": "wrong password!"},
        headers={"Referer": "https://kapu.example.hu/login"},
    )
    assert posted.status_code == 401


def test_plain_http_base_url_sends_no_hsts_and_a_plain_cookie(client):
    response = client.get("/activate")
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["Set-Cookie"].startswith("session=") and "Secure" not in response.headers["Set-Cookie"]


def login_form(client, **headers):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"csrf_token": token, "username": "nobody.here", "password": "wrong!"}, headers=headers
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://kapu.test.evil.example"},
        {"Origin": "https://localhost"},  # same host, other scheme: another origin
        {"Referer": "https://evil.example/login"},
        {"Referer": "http://localhost:8080/login"},  # same host, other port
        {"Referer": "not a url"},
        {"Origin": "https://evil.example", "Referer": "http://localhost/login"},
    ],
)
def test_a_cross_site_post_with_a_valid_token_is_refused_and_audited(app, client, headers):
    response = login_form(client, **headers)
    assert response.status_code == 400
    assert "not sent from this site" in response.get_data(as_text=True)
    with app.app_context():
        events = list(AuditEvent.select().where(AuditEvent.kind == "csrf"))
        assert [(e.outcome, e.client_address) for e in events] == [("refused", "127.0.0.1")]
        assert "another site" in events[0].detail
        assert not AuditEvent.select().where(AuditEvent.kind == "login").count()  # the login never ran


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://localhost"},
        {"Origin": "http://localhost:80"},
        {"Referer": "http://localhost/login"},
        {"Origin": "http://kapu.test", "Referer": "https://evil.example/"},  # KAPU_BASE_URL is this site too
    ],
)
def test_a_same_site_post_goes_through(client, headers):
    assert login_form(client, **headers).status_code == 401  # reached the login: a wrong password


def test_a_post_without_a_token_is_refused_and_audited(app, client):
    response = client.post("/login", data={"username": "nobody.here", "password": "wrong!"})
    assert response.status_code == 400
    with app.app_context():
        event = AuditEvent.get(AuditEvent.kind == "csrf")
        assert event.outcome == "refused" and "token is missing" in event.detail
        assert event.client_address == "127.0.0.1"


def test_health_check_answers_with_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
