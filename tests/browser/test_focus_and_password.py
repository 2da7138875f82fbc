"""Where the focus goes after a failed submit, and the Show/Hide password button (GOV.UK patterns), in both
languages, with JavaScript on and off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import LANGUAGES, PASSWORD_FORM, activate, in_language, log_in, submit

pytestmark = pytest.mark.browser

WORDS = {
    # In Hungarian the visible words are the whole name (axe's label-in-name check wants whole words).
    "hu": {
        "show": "Jelszó megjelenítése",
        "hide": "Jelszó elrejtése",
        "show_label": "Jelszó megjelenítése",
        "hide_label": "Jelszó elrejtése",
        "shown": "A jelszava látható.",
        "hidden": "A jelszava rejtve van.",
    },
    "en": {
        "show": "Show",
        "hide": "Hide",
        "show_label": "Show password",
        "hide_label": "Hide password",
        "shown": "Your password is shown.",
        "hidden": "Your password is hidden.",
    },
}


def focused(page):
    """What has the keyboard focus: `#id`, `.error-summary` or the tag name."""
    return page.evaluate(
        """() => { const e = document.activeElement;
                   if (!e) return null;
                   if (e.classList.contains('error-summary')) return '.error-summary';
                   return e.id ? '#' + e.id : e.tagName.toLowerCase(); }"""
    )


def toggle_for(page, input_id):
    return page.locator(f"button[aria-controls='{input_id}']")


# --- 1. Focus --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_error_summary_takes_the_focus_and_its_links_focus_the_fields(page, language):
    page.goto(in_language("/login", language))
    page.locator("#username").fill("nincs.ilyen")
    response = submit(page, page.locator("main form button[type=submit]").click)
    assert response.status == 422

    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    assert summary.get_attribute("tabindex") == "-1"
    assert focused(page) == ".error-summary"

    summary.locator("a[href='#password']").click()
    expect(page.locator("#password")).to_be_focused()
    # The label is on screen above its field, so a sighted keyboard user sees what the field is.
    expect(page.locator("label[for=password]")).to_be_in_viewport()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_summary_link_on_the_account_page_reaches_its_own_form(page, citizen, language):  # noqa: F811
    """/account holds two forms; the password form's ids are prefixed, and its summary links follow them."""
    log_in(page, citizen.username)
    page.goto(in_language("/account", language))
    form = page.locator(PASSWORD_FORM)
    form.locator("input[type=password]").first.fill("nem ez a jelszavam")
    response = submit(page, form.locator("button[type=submit]").click)
    assert response.status >= 400
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    links = summary.locator("a")
    target = links.first.get_attribute("href")
    assert target.startswith("#change-")
    links.first.click()
    assert focused(page) == target
    expect(page.locator(target)).to_be_focused()


@pytest.mark.parametrize("language", LANGUAGES)
def test_live_messages_never_steal_the_focus(page, language):
    page.goto(in_language("/activate", language))
    page.locator("#username").fill("nincs.ilyen")
    response = submit(page, page.locator("#activation-form button[type=submit]").click)
    assert response.status == 422
    expect(page.locator(".error-summary")).to_be_focused()

    password = page.locator("#password")
    password.click()
    password.press_sequentially("rövidke")
    expect(page.locator("#password-error")).not_to_have_text("")  # the live message came
    expect(password).to_be_focused()
    password.press_sequentially(" és még")
    expect(password).to_have_value("rövidke és még")  # every key went into the field
    expect(password).to_be_focused()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_page_without_errors_leaves_the_focus_alone(page, language):
    page.goto(in_language("/login", language))
    assert focused(page) == "body"


# --- 2. Show password ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_show_password_toggles_the_field_and_says_so(page, language):
    words = WORDS[language]
    page.goto(in_language("/login", language))
    password = page.locator("#password")
    toggle = toggle_for(page, "password")
    expect(toggle).to_have_count(1)
    assert toggle.evaluate("b => b.tagName + ':' + b.type") == "BUTTON:button"
    expect(toggle).to_have_text(words["show"])
    expect(toggle).to_have_accessible_name(words["show_label"])
    expect(password).to_have_attribute("type", "password")

    password.fill("titkos jelszó")
    toggle.click()
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value("titkos jelszó")
    expect(toggle).to_have_text(words["hide"])
    expect(toggle).to_have_accessible_name(words["hide_label"])
    status = page.locator(".password-input [aria-live=polite]")
    expect(status).to_have_text(words["shown"])
    expect(status).to_be_attached()
    assert status.bounding_box()["width"] <= 1  # read by screen readers, not shown

    toggle.click()
    expect(password).to_have_attribute("type", "password")
    expect(toggle).to_have_text(words["show"])
    expect(status).to_have_text(words["hidden"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_password_shown_as_text_is_hidden_again_when_the_form_is_sent(page, language):
    page.goto(in_language("/login", language))
    page.locator("#username").fill("valaki")
    page.locator("#password").fill("ez nem a jó jelszó")
    toggle_for(page, "password").click()
    expect(page.locator("#password")).to_have_attribute("type", "text")
    # A listener added after the page's own sees the field as the browser sends it (and keeps the page here).
    page.evaluate("""() => document.querySelector('main form').addEventListener('submit', (e) => {
        e.preventDefault();
        document.body.dataset.typeAtSubmit = document.getElementById('password').type;
    })""")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-type-at-submit", "password")
    expect(page.locator("#password")).to_have_value("ez nem a jó jelszó")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_password_field_of_activation_has_its_own_toggle(page, language):
    page.goto(in_language("/activate", language))
    for input_id in ("password", "password_confirm"):
        toggle = toggle_for(page, input_id)
        expect(toggle).to_have_count(1)
        toggle.click()
        expect(page.locator(f"#{input_id}")).to_have_attribute("type", "text")
    expect(page.locator("#username")).to_have_attribute("type", "text")
    expect(toggle_for(page, "code")).to_have_count(0)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_password_change_form_has_toggles(page, citizen, language):  # noqa: F811
    log_in(page, citizen.username)
    page.goto(in_language("/account", language))
    form = page.locator(PASSWORD_FORM)
    ids = form.locator("input[type=password]").evaluate_all("inputs => inputs.map(i => i.id)")
    assert len(ids) == 3
    for input_id in ids:
        expect(toggle_for(page, input_id)).to_have_count(1)


@pytest.mark.parametrize("language", LANGUAGES)
def test_with_javascript_off_no_toggle_appears_and_the_field_works(page_nojs, registered, language):
    page = page_nojs
    page.goto(in_language("/activate", language))
    expect(page.locator("button[aria-controls]")).to_have_count(0)
    expect(page.locator("main button")).to_have_count(1)  # only the submit button
    expect(page.locator("#password")).to_have_attribute("type", "password")

    page.goto(in_language(registered.link, language))
    assert activate(page, registered.username).status == 200
    expect(page.locator("h1")).to_have_text({"hu": "Fiókja aktív", "en": "Your account is open"}[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_keyboard_order_is_field_then_its_toggle(page, language):
    page.goto(in_language("/login", language))
    page.locator("#password").focus()
    page.keyboard.press("Tab")
    expect(toggle_for(page, "password")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#password")).to_have_attribute("type", "text")
    page.keyboard.press("Tab")
    expect(page.locator("main form button[type=submit]")).to_be_focused()
