"""Security headers, cookies and CSRF on every page."""

import pytest

from app import CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/", "/activate", "/register", "/login", "/healthz", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
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


def test_https_base_url_gives_secure_cookies_and_hsts(app_config):
    from app import create_app

    app = create_app({**app_config, "KAPU_BASE_URL": "https://kapu.example.hu"})
    client = app.test_client()
    response = client.get("/activate", base_url="https://kapu.example.hu")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert client.get_cookie("session", domain="kapu.example.hu").secure


def test_health_check_answers_with_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
