"""The activation journey in headless Chromium: the e-mail link, live validation, submit with and without JS,
and a keyboard-only run: the page ids, field names and error hooks the tests rely on stay as they are."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import LANGUAGES, activate, english, in_language, submit
from tests.support.helpers import STRONG_PASSWORD

pytestmark = pytest.mark.browser

ANY_VALUE = re.compile(".*")
FIELD_ORDER = ["username", "code", "password", "password_confirm"]
ACCOUNT_OPEN = {"hu": "Fiókja aktív", "en": "Your account is open"}


def field_ids(page):
    return page.locator("#activation-form input:not([type=hidden])").evaluate_all("inputs => inputs.map(i => i.id)")


def expect_valid(page, field_id):
    """The live region is empty and the input no longer carries aria-invalid at all."""
    expect(page.locator(f"#{field_id}-error")).to_have_text("")
    # (wait_for_function would need eval, which the page's CSP rightly forbids; a regex matching any
    # value only "not" matches when the attribute is gone)
    expect(page.locator(f"#{field_id}")).not_to_have_attribute("aria-invalid", ANY_VALUE)


@pytest.mark.both_databases
def test_the_email_link_shows_the_four_fields_in_order_with_the_code_filled_in(page, registered):
    response = page.goto(registered.link)
    assert response.status == 200
    assert page.url.endswith("/activate")  # redirected: the token is not in the address bar or history
    assert field_ids(page) == FIELD_ORDER
    for name in FIELD_ORDER:
        expect(page.locator(f"label[for={name}]")).to_have_count(1)
    expect(page.locator("#code")).to_have_value(registered.code)
    expect(page.locator("#username")).to_have_value("")
    expect(page.locator(".deadline")).to_be_visible()
    expect(page.locator(".deadline")).to_contain_text(re.compile(r"\d"))
    assert page.locator("html").get_attribute("lang") == "hu"


def test_the_deadline_is_told_in_english_too(page, registered):
    page.goto(english(registered.link))
    expect(page.locator(".deadline")).to_contain_text("The code is valid until")


@pytest.mark.both_databases
def test_password_rules_are_told_live_without_a_page_load(page, registered):
    page.goto(english(registered.link))
    url = page.url
    page.evaluate("window.__kapuNoReload = 'still here'")
    password, error = page.locator("#password"), page.locator("#password-error")
    assert error.get_attribute("aria-live") == "polite"
    expect(error).to_have_text("")

    page.locator("#username").fill(registered.username)
    password.press_sequentially("rövidke")
    expect(error).to_contain_text("at least 15 characters")

    password.fill(STRONG_PASSWORD)
    expect(error).to_have_text("")

    password.fill("password1234")
    expect(error).to_contain_text("too common")

    password.fill(f"{registered.username} 2000 tavasz")
    expect(error).to_contain_text("from your username")

    password.fill(STRONG_PASSWORD)
    expect(error).to_have_text("")

    assert page.url == url
    assert page.evaluate("window.__kapuNoReload") == "still here"


def test_the_confirmation_is_checked_live_after_a_pause(page, registered):
    page.goto(english(registered.link))
    url = page.url
    page.evaluate("window.__kapuNoReload = 'still here'")
    confirm, error = page.locator("#password_confirm"), page.locator("#password_confirm-error")
    assert error.get_attribute("aria-live") == "polite"

    page.locator("#username").fill(registered.username)
    page.locator("#password").fill(STRONG_PASSWORD)
    confirm.press_sequentially(STRONG_PASSWORD[:-1] + "x")  # no Tab: only the pause after typing
    expect(error).to_contain_text("do not match")

    confirm.fill(STRONG_PASSWORD)
    expect(error).to_have_text("")
    assert page.url == url
    assert page.evaluate("window.__kapuNoReload") == "still here"


def test_live_checks_set_and_clear_aria_invalid(page, registered):
    page.goto(english(registered.link))
    password, confirm = page.locator("#password"), page.locator("#password_confirm")
    page.locator("#username").fill(registered.username)

    password.press_sequentially("rövidke")
    expect(page.locator("#password-error")).to_contain_text("at least 15 characters")
    expect(password).to_have_attribute("aria-invalid", "true")
    password.fill(STRONG_PASSWORD)
    expect_valid(page, "password")

    confirm.press_sequentially(STRONG_PASSWORD + "x")
    expect(page.locator("#password_confirm-error")).to_contain_text("do not match")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    confirm.fill(STRONG_PASSWORD)
    expect_valid(page, "password_confirm")


def test_tabbing_through_an_empty_confirmation_says_nothing(page, registered):
    page.goto(english(registered.link))
    page.locator("#username").fill(registered.username)
    page.locator("#password").fill(STRONG_PASSWORD)
    # Leaving the password field also re-checks the confirmation (still empty): no message expected.
    with page.expect_response(re.compile(r"/activate/check/password_confirm$")):
        page.keyboard.press("Tab")
    expect(page.locator("button[aria-controls=password]")).to_be_focused()  # the field's Show button
    page.keyboard.press("Tab")
    expect(page.locator("#password_confirm")).to_be_focused()
    page.keyboard.press("Tab")  # through the confirmation without typing
    page.wait_for_timeout(1_000)  # longer than the confirmation's 700 ms pause
    expect(page.locator("#password_confirm-error")).to_have_text("")
    assert page.locator("#password_confirm").get_attribute("aria-invalid") is None


def _log_in(page, username, password):
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/account")
    expect(page.locator("h1")).to_be_visible()


def test_a_press_on_the_button_is_not_lost_to_a_message_appearing_above_it(page, registered):
    """Pressing the button leaves the password field, whose change would ask for a live check; a message swapped in
    while the button is held moves it from under the pointer, and letting go there sends nothing. So no check
    starts while a submit button is held: the form's answer shows every message."""
    page.goto(english(registered.link))
    page.locator("#username").fill(registered.username)
    page.locator("#password").fill("rövid")  # too short: its message would push the button down
    checks = []
    page.on("request", lambda request: "/check/" in request.url and checks.append(request.url))
    button = page.locator("#activation-form button[type=submit]")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 2)  # near its top edge: a line's shift is enough
    with page.expect_response(lambda r: r.request.is_navigation_request() and r.request.method == "POST") as sent:
        page.mouse.down()
        page.wait_for_timeout(600)  # longer than a live check takes here, and than the typing pause (400 ms)
        page.mouse.up()
    assert sent.value.status == 422 and checks == []
    page.wait_for_load_state()
    expect(page.locator(".error-summary")).to_contain_text("at least 15 characters")


def test_a_typed_password_is_checked_once(page, registered):
    """The pause in typing and then leaving the field both ask for the `password` check, the dearest one (zxcvbn):
    htmx's `changed` remembers the value last sent per field, so leaving it unchanged sends nothing more."""
    page.goto(english(registered.link))
    page.locator("#username").fill(registered.username)
    checks = []
    page.on("request", lambda request: request.url.endswith("/check/password") and checks.append(request))
    with page.expect_response(lambda r: r.url.endswith("/check/password")):
        page.locator("#password").fill(STRONG_PASSWORD)
    page.keyboard.press("Tab")
    page.wait_for_timeout(1000)  # longer than both fields' typing pauses (400 and 700 ms)
    assert len(checks) == 1
    page.locator("#password").focus()
    with page.expect_response(lambda r: r.url.endswith("/check/password")):
        page.keyboard.type("x")  # a change is checked again
    page.keyboard.press("Tab")
    page.wait_for_timeout(1000)
    assert len(checks) == 2


@pytest.mark.both_databases
def test_activation_with_javascript_then_login(page, registered):
    page.goto(english(registered.link))
    expect(page.locator("#code")).to_have_value(registered.code)
    assert activate(page, registered.username).status == 200
    expect(page.locator("h1")).to_have_text("Your account is open")

    _log_in(page, registered.username, STRONG_PASSWORD)
    assert page.url.endswith("/account")


def test_activation_without_javascript_keeps_what_was_typed_and_explains_the_error(page_nojs, registered):
    page = page_nojs
    page.goto(english(registered.link))
    assert page.url.endswith("/activate")
    expect(page.locator("#code")).to_have_value(registered.code)
    page.locator("#username").fill(registered.username)
    page.locator("#password").fill(STRONG_PASSWORD)
    page.locator("#password_confirm").fill(STRONG_PASSWORD + " más")
    response = submit(page, page.locator("#activation-form button[type=submit]").click)
    assert response.status == 422

    summary = page.locator(".error-summary")
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("do not match")
    confirm = page.locator("#password_confirm")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    assert "password_confirm-error" in confirm.get_attribute("aria-describedby").split()
    expect(page.locator("#username")).to_have_value(registered.username)
    expect(page.locator("#code")).to_have_value(registered.code)
    expect(page.locator("#password")).to_have_value("")
    expect(confirm).to_have_value("")

    page.locator("#password").fill(STRONG_PASSWORD)
    confirm.fill(STRONG_PASSWORD)
    response = submit(page, page.locator("#activation-form button[type=submit]").click)
    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Your account is open")

    _log_in(page, registered.username, STRONG_PASSWORD)


def test_without_javascript_the_field_error_region_holds_the_message(page_nojs, registered):
    """A field's aria-describedby names `<field>-error`, and that element holds the message (a fixed hook)."""
    page = page_nojs
    page.goto(english(registered.link))
    page.locator("#username").fill(registered.username)
    page.locator("#password").fill("rövidke")
    page.locator("#password_confirm").fill("rövidkx")
    response = submit(page, page.locator("#activation-form button[type=submit]").click)
    assert response.status == 422
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_contain_text("at least 15 characters")
    expect(page.locator("#password_confirm")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password_confirm-error")).to_contain_text("do not match")


def _tab_to(page, element_id, limit=25):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} was not reached with Tab")


@pytest.mark.parametrize("language", LANGUAGES)
def test_activation_with_the_keyboard_only(page, registered, language):
    page.goto(in_language(registered.link, language))
    _tab_to(page, "username")
    page.keyboard.type(registered.username)
    page.keyboard.press("Tab")
    expect(page.locator("#code")).to_be_focused()
    expect(page.locator("#code")).to_have_value(registered.code)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(STRONG_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.locator("button[aria-controls=password]")).to_be_focused()  # each password has a Show button
    page.keyboard.press("Tab")
    expect(page.locator("#password_confirm")).to_be_focused()
    page.keyboard.type(STRONG_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.locator("button[aria-controls=password_confirm]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#activation-form button[type=submit]")).to_be_focused()
    expect(page.locator("#password_confirm-error")).to_have_text("")
    response = submit(page, lambda: page.keyboard.press("Enter"))
    assert response.status == 200
    expect(page.locator("h1")).to_have_text(ACCOUNT_OPEN[language])
