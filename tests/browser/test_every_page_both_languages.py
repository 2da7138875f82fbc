"""axe in both languages on the pages the other browser tests reach but did not check in both: the answers after a
submit (activation, registration, a used link, a failed login, a confirmed e-mail change), registration with
errors, the page that cancels an e-mail change, the start page with a service-notice banner and the admin's desk
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


def email_change_links(live_app, live_mailbox, username):
    """An e-mail change asked for the citizen: the confirmation link (new address) and the cancel link (old)."""
    import re

    from domain.account import request_email_change
    from models import Account

    new_email = f"uj.{uuid.uuid4().hex[:8]}@pelda.hu"
    with live_app.test_request_context():
        account = Account.get(Account.username == username)
        request_email_change(live_app.extensions["kapu"], account, new_email)
    base = re.escape(live_mailbox.base_url)
    confirm = re.search(base + r"(/account/email/confirm/\S+)", live_mailbox.last_text(new_email)).group(1)
    cancel = re.search(base + r"(/account/email/cancel/\S+)", live_mailbox.last_text(account.email)).group(1)
    return confirm, cancel


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_email_change_confirmed_and_the_cancel_page(axe_page, live_app, live_mailbox, citizen, language):
    confirm, cancel = email_change_links(live_app, live_mailbox, citizen.username)
    page = axe_page
    assert page.goto(in_language(cancel, language)).status == 200
    assert_page_in(page, language)
    page.goto(in_language(confirm, language))
    assert submit(page, page.locator("main form button[type=submit]").click).status == 303
    page.wait_for_url("**/account/email/confirmed")
    assert_page_in(page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_start_page_with_a_notice_banner(axe_page, live_app, language):
    from domain import notices

    with live_app.app_context():
        notice = notices.add(
            title=f"Karbantartás {uuid.uuid4().hex[:6]}",
            body="Az aktiválás szombaton 2 és 4 óra között szünetel.",
            service="Aktiválás",
            still_works="A bejelentkezés működik.",
        )
    try:
        axe_page.goto(in_language("/", language))
        expect(axe_page.locator(".notice-banner")).to_contain_text(notice.title)
        assert_page_in(axe_page, language)
    finally:
        with live_app.app_context():
            notices.end(notice.id)
