"""The service-notice banner (htmx polling, driven by Playwright's fake clock), the registration desk, and axe on
/notices, /help/activation and /desk, in headless Chromium."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.browser import LANGUAGES, assert_accessible, english, in_language, log_in, submit
from tests.support.helpers import OFFICE, STAFF_PASSWORD, add_staff, register_citizen

pytestmark = pytest.mark.browser

POLL = "01:05"  # a little more than the banner's 60 s polling interval
BANNER_REQUEST = re.compile(r"/notices/banner$")


@pytest.fixture(scope="module")
def demo_data(live_app):
    """The demo offices, as `init-db --demo` adds them (create_app has added the shipped help articles)."""
    from domain import offices

    with live_app.app_context():
        offices.seed_demo_offices()


@pytest.fixture
def notices(live_app):
    """Adds service notices; every one still running is ended afterwards (the live app serves the whole session)."""
    from domain import notices as domain_notices

    added = []

    class Notices:
        def add(self, title, **fields):
            with live_app.app_context():
                notice = domain_notices.add(title=title, body="Az e-aláírás szolgáltatás nem érhető el.", **fields)
            added.append(notice.id)
            return notice

        def end(self, notice):
            with live_app.app_context():
                domain_notices.end(notice.id)

        def active(self):
            with live_app.app_context():
                return domain_notices.active()

    helper = Notices()
    assert helper.active() == [], "another test left a service notice running"
    yield helper
    with live_app.app_context():
        for notice_id in added:
            domain_notices.end(notice_id)


def unique_title():
    return f"Ügyfélkapu-kimaradás {uuid.uuid4().hex[:6]}"


# --- The service-notice banner ------------------------------------------------------------------------------


def test_the_banner_comes_and_goes_by_polling_without_a_page_load(page, notices):
    page.clock.install()
    page.goto(english("/"))
    banner = page.locator("#notice-banner")
    expect(banner).to_have_count(1)
    expect(banner.locator("section")).to_have_count(0)
    page.evaluate("window.__kapuNoReload = 'still here'")

    title = unique_title()
    notice = notices.add(title, still_works="Az ügyfélkapus belépés működik.")
    with page.expect_response(BANNER_REQUEST):
        page.clock.fast_forward(POLL)
    section = page.locator("#notice-banner section.notice-banner")
    expect(section).to_be_visible()
    expect(section.locator("#notice-banner-title")).to_have_text("Service notice")
    expect(section).to_contain_text(title)
    expect(section).to_contain_text("What still works: Az ügyfélkapus belépés működik.")
    expect(section.locator("a[href='/notices']")).to_be_visible()
    assert page.evaluate("window.__kapuNoReload") == "still here"

    notices.end(notice)
    with page.expect_response(BANNER_REQUEST):
        page.clock.fast_forward(POLL)
    expect(page.locator("#notice-banner section")).to_have_count(0)
    expect(page.locator("#notice-banner")).to_have_count(1)  # still there, still polling
    assert page.evaluate("window.__kapuNoReload") == "still here"


def test_the_banner_does_not_poll_before_the_minute_is_up(page, notices):
    page.clock.install()
    page.goto(english("/"))
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/notices/banner" in request.url else None)
    notices.add(unique_title())
    page.clock.fast_forward("00:50")
    page.wait_for_timeout(300)
    assert requests == []
    expect(page.locator("#notice-banner section")).to_have_count(0)


def test_without_javascript_the_banner_shows_on_page_load(page_nojs, notices):
    title = unique_title()
    notices.add(title)
    page_nojs.goto(english("/"))
    section = page_nojs.locator("#notice-banner section.notice-banner")
    expect(section).to_be_visible()
    expect(section).to_contain_text(title)


# --- The registration desk ----------------------------------------------------------------------------------


@pytest.fixture
def clerk(live_app, demo_data):
    username = f"ugyintezo.{uuid.uuid4().hex[:8]}"
    add_staff(live_app, username, "clerk", office=OFFICE)
    return username


def log_in_at_the_desk(page, username):
    log_in(page, username, STAFF_PASSWORD, lands_on="/desk", heading="Registration desk")


def test_a_clerk_registers_a_citizen_at_the_desk(page, clerk, registered, live_mailbox):
    log_in_at_the_desk(page, clerk)
    expect(page.locator("main")).to_contain_text(f"Office: {OFFICE}")

    username, error = page.locator("#username"), page.locator("#username-error")
    expect(error).to_have_attribute("aria-live", "polite")
    with page.expect_response(re.compile(r"/desk/check/username$")):
        username.press_sequentially(registered.username)
    expect(error).to_contain_text("This username is taken")
    expect(username).to_have_attribute("aria-invalid", "true")

    new_username = f"toth.pal.{uuid.uuid4().hex[:6]}"
    new_email = f"{new_username}@example.hu"
    username.fill(new_username)
    expect(error).to_have_text("")
    expect(username).not_to_have_attribute("aria-invalid", re.compile(".*"))
    page.locator("#full_name").fill("Tóth Pál")
    page.locator("#email").fill(new_email)
    response = submit(page, page.locator("form[action$='/desk/register'] button[type=submit]").click)
    assert response.status == 200
    expect(page.locator("main [role=status]")).to_contain_text(
        f"Registered. The one-time code was e-mailed to {new_email}"
    )

    row = page.locator("section[aria-labelledby=pending-title] tbody tr", has_text=new_username)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Tóth Pál")
    expect(row).to_contain_text(OFFICE)
    expect(row).to_contain_text(re.compile(r"\d"))  # the code's deadline
    assert [m.kind for m, _ in live_mailbox.messages(new_email)] == ["activation_code"]


# --- Accessibility ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_notices_with_a_current_and_a_past_notice(axe_page, notices, language):
    past = notices.add(f"Lezárult: {unique_title()}")
    notices.end(past)
    current = notices.add(unique_title(), still_works="Az ügyfélkapus belépés működik.", contact="1818")
    response = axe_page.goto(in_language("/notices", language))
    assert response.status == 200
    assert axe_page.locator("html").get_attribute("lang") == language
    expect(axe_page.locator("section[aria-labelledby=current-title]")).to_contain_text(current.title)
    expect(axe_page.locator("section[aria-labelledby=past-title]")).to_contain_text(past.title)
    expect(axe_page.locator("#notice-banner section")).to_be_visible()
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_help_article(axe_page, demo_data, language):
    response = axe_page.goto(in_language("/help/activation", language))
    assert response.status == 200
    assert axe_page.locator("html").get_attribute("lang") == language
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_desk_with_a_pending_registration(axe_page, live_app, clerk, language):
    citizen = f"kiss.anna.{uuid.uuid4().hex[:6]}"
    register_citizen(live_app, citizen, f"{citizen}@example.hu", channel="office", office=OFFICE, full_name="Kiss Anna")
    log_in_at_the_desk(axe_page, clerk)
    axe_page.goto(in_language("/desk", language))
    assert axe_page.locator("html").get_attribute("lang") == language
    expect(axe_page.locator("section[aria-labelledby=pending-title] tbody tr", has_text=citizen)).to_have_count(1)
    assert_accessible(axe_page)
