"""axe-core on every page of the activation journey: no violation of any impact (WCAG 2.x A/AA and best
practices, every rule axe runs by default), in Hungarian (the default) and English.

The context bypasses CSP only so axe's script can be injected (see the `axe_page` fixture)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import LANGUAGES, activate, assert_accessible, in_language
from tests.support.helpers import STRONG_PASSWORD

pytestmark = pytest.mark.browser

PUBLIC_PAGES = [
    "/",
    "/activate",
    "/register",
    "/login",
    "/forgotten-password",
    "/notices",
    "/help",
    "/help/registration",
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages(axe_page, path, language):
    response = axe_page.goto(in_language(path, language))
    assert response.status == 200
    assert axe_page.locator("html").get_attribute("lang") == language
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_activation_form_from_the_email_link(axe_page, registered, language):
    response = axe_page.goto(in_language(registered.link, language))
    assert response.status == 200
    expect(axe_page.locator("#code")).to_have_value(registered.code)
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_activation_form_after_a_failed_submit(axe_page, language):
    page = axe_page
    page.goto(in_language("/activate", language))
    page.locator("#username").fill("nincs.ilyen")
    page.locator("#password").fill("rövid")
    with page.expect_response(lambda r: r.request.is_navigation_request() and r.request.method == "POST") as answer:
        page.locator("#activation-form button[type=submit]").click()
    assert answer.value.status == 422
    page.wait_for_load_state()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_page_for_a_broken_link(axe_page, language):
    response = axe_page.goto(in_language("/activate/this-is-not-a-valid-token", language))
    assert response.status == 400
    expect(axe_page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_page_not_found(axe_page, language):
    response = axe_page.goto(in_language("/no-such-page", language))
    assert response.status == 404
    assert axe_page.locator("html").get_attribute("lang") == language
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_account_page_when_logged_in(axe_page, registered, language):
    page = axe_page
    page.goto(in_language(registered.link, language))
    assert activate(page, registered.username).status == 200
    page.locator("#activation-form").wait_for(state="detached")  # the answer page has replaced the form
    page.goto("/login")
    page.locator("#username").fill(registered.username)
    page.locator("#password").fill(STRONG_PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/account")
    assert_accessible(page)
