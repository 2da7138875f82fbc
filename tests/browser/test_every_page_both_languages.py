"""axe in both languages on the pages the other browser tests reach but did not check in both: the answers after a
submit (activation, registration, a used link, a failed login), registration with errors and the admin's desk
pages. Together with test_accessibility.py, test_account_browser.py and test_desk_notices_browser.py, every page
a browser test opens is checked in Hungarian and in English."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.support.browser import LANGUAGES, activate, assert_accessible, in_language, log_in, submit
from tests.support.helpers import STAFF_PASSWORD, add_staff

pytestmark = pytest.mark.browser

ACCOUNT_OPEN = {"hu": "Fiókja aktív", "en": "Your account is open"}


def assert_page_in(page, language):
    assert page.locator("html").get_attribute("lang") == language
    assert_accessible(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_activation_answer(axe_page, registered, language):
    axe_page.goto(in_language(registered.link, language))
    assert activate(axe_page, registered.username).status == 200
    expect(axe_page.locator("h1")).to_have_text(ACCOUNT_OPEN[language])
    assert_page_in(axe_page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_answer_to_a_used_link(axe_page, citizen, language):
    response = axe_page.goto(in_language(citizen.link, language))
    assert response.status == 409
    assert_page_in(axe_page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_failed_login(axe_page, citizen, language):
    page = axe_page
    page.goto(in_language("/login", language))
    page.locator("#username").fill(citizen.username)
    page.locator("#password").fill("nem ez a jelszó, not this one")
    response = submit(page, page.locator("main form button[type=submit]").click)
    assert response.status == 401
    expect(page.locator(".error-summary")).to_be_visible()
    assert_page_in(page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_registration_with_errors_then_its_answer(axe_page, language):
    page = axe_page
    page.goto(in_language("/register", language))
    page.locator("#email").fill("nem-cim")
    response = submit(page, page.locator("main form button[type=submit]").click)
    assert response.status == 422
    expect(page.locator(".error-summary")).to_be_visible()
    assert_page_in(page, language)

    username = f"uj.polgar.{uuid.uuid4().hex[:8]}"
    page.locator("#username").fill(username)
    page.locator("#full_name").fill("Új Polgár")
    page.locator("#email").fill(f"{username}@example.hu")
    response = submit(page, page.locator("main form button[type=submit]").click)
    assert response.status == 200
    assert_page_in(page, language)


@pytest.fixture
def admin(live_app):
    username = f"admin.{uuid.uuid4().hex[:8]}"
    add_staff(live_app, username, "admin")
    return username


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_admin_desk_pages(axe_page, admin, language):
    log_in(axe_page, admin, STAFF_PASSWORD, lands_on="/desk", heading="Registration desk")
    for path in ("/desk", "/desk/notices", "/desk/help", "/desk/help/activation", "/desk/audit"):
        response = axe_page.goto(in_language(path, language))
        assert response.status == 200, path
        assert_page_in(axe_page, language)
