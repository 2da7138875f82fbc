"""Forgotten password and "Registration data" in headless Chromium: a new code by mail, the e-mail change
confirmed by link (with and without JavaScript), the password change with live checks, and axe on these pages."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from domain.account import mask_email_for_mail
from tests.support.browser import (
    LANGUAGES,
    PASSWORD_FORM,
    activate,
    assert_accessible,
    checked_page,
    english,
    in_language,
    log_in,
    submit,
)
from tests.support.helpers import STRONG_PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "hegyi patak mellett zöld moha"
ANY_VALUE = re.compile(".*")
EMAIL_FORM = "form[action$='/account/email']"


@pytest.fixture
def other_page(browser, base_url):
    """A second, independent browser context (its own cookies): the citizen's phone, or a mail client."""
    yield from checked_page(browser, base_url)


@pytest.fixture
def other_page_nojs(browser, base_url):
    yield from checked_page(browser, base_url, java_script_enabled=False)


def masked(address):
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def new_address():
    # A different first letter and domain than the registration's, so the two masked forms differ.
    return f"uj.{uuid.uuid4().hex[:8]}@pelda.hu"


def confirmation_link(live_mailbox, recipient):
    pattern = re.escape(live_mailbox.base_url) + r"(/account/email/confirm/\S+)"
    return re.search(pattern, live_mailbox.last_text(recipient)).group(1)


def kinds(live_mailbox, recipient):
    return [message.kind for message, _ in live_mailbox.messages(recipient)]


def password_fields(page):
    """The password form's current, new and repeated password, found by their labels as a user would."""
    form = page.locator(PASSWORD_FORM)
    return (
        form.get_by_label("Current password"),
        form.get_by_label("New password", exact=True),
        form.get_by_label("New password again"),
    )


def error_region(page, field):
    """The live message region named by the field's aria-describedby: what a screen reader announces."""
    [error_id] = [i for i in field.get_attribute("aria-describedby").split() if i.endswith("-error")]
    return page.locator(f"[id='{error_id}']")


# --- Forgotten password --------------------------------------------------------------------------------------


def ask_for_a_new_code(page, username, email, language="en"):
    page.goto(in_language("/forgotten-password", language))
    if language == "en":
        expect(page.locator("h1")).to_have_text("Forgotten password")
    page.locator("#username").fill(username)
    page.locator("#email").fill(email)
    return submit(page, page.locator("main form button[type=submit]").click)


def test_forgotten_password_mails_a_new_code_whose_link_activates(page, registered, live_mailbox):
    response = ask_for_a_new_code(page, registered.username, registered.email)
    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Check your mailbox")

    assert kinds(live_mailbox, registered.email) == ["activation_code", "reset_code"]
    code, link = live_mailbox.last_code(registered.email), live_mailbox.last_link(registered.email)
    assert code != registered.code

    page.goto(english(link))
    expect(page.locator("#code")).to_have_value(code)
    assert activate(page, registered.username).status == 200
    expect(page.locator("h1")).to_have_text("Your account is open")

    log_in(page, registered.username)


def test_forgotten_password_answers_a_non_matching_pair_with_the_same_page(page, registered, live_mailbox):
    def answer(email):
        response = ask_for_a_new_code(page, registered.username, email)
        return response.status, page.locator("h1").inner_text(), page.locator("main").inner_text()

    stranger = f"valaki.{uuid.uuid4().hex[:8]}@example.hu"
    matching, not_matching = answer(registered.email), answer(stranger)
    assert not_matching == matching
    assert matching[1] == "Check your mailbox"
    assert kinds(live_mailbox, stranger) == []
    assert kinds(live_mailbox, registered.email) == ["activation_code", "reset_code"]


# --- The identification e-mail address ----------------------------------------------------------------------


def change_email_journey(page, other, citizen, live_mailbox):
    """Ask for the change in *page* (logged in), confirm it from the e-mail in *other* (a separate browser)."""
    log_in(page, citizen.username)
    data = page.locator("main .data-list")
    expect(data).to_contain_text(masked(citizen.email))
    assert citizen.email not in data.inner_text()

    new_email = new_address()
    form = page.locator(EMAIL_FORM)
    form.locator("input[name=email]").fill(new_email)
    form.locator("input[name=password]").fill(STRONG_PASSWORD)
    response = submit(page, form.locator("button[type=submit]").click)
    assert response.status == 303  # post/redirect/get: a reload cannot send the request again
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("main [role=status]")).to_contain_text(f"We sent a confirmation link to {new_email}")
    expect(data).to_contain_text(masked(citizen.email))

    assert kinds(live_mailbox, new_email) == ["email_change_confirm"]
    link = confirmation_link(live_mailbox, new_email)

    # Opening the link (twice, as a mail scanner and then the citizen might) only shows the button.
    for _ in range(2):
        response = other.goto(english(link))
        assert response.status == 200
        expect(other.locator("h1")).to_have_text("Confirm the new e-mail address")
        expect(other.locator("main")).to_contain_text(new_email)
        expect(other.locator("main form button[type=submit]")).to_have_text("Confirm the change")
    page.goto("/account")  # (not reload: that would post the change request again)
    expect(data).to_contain_text(masked(citizen.email))
    expect(data).not_to_contain_text(masked(new_email))
    assert "email_changed_notice" not in kinds(live_mailbox, citizen.email)

    other.locator("main form button[type=submit]").click()
    other.wait_for_url(re.compile(r"/account/email/confirmed"))
    expect(other.locator("h1")).to_have_text("E-mail address changed")

    page.goto("/account")
    expect(data).to_contain_text(masked(new_email))
    expect(data).not_to_contain_text(masked(citizen.email))
    message, text = live_mailbox.messages(citizen.email)[-1]
    assert message.kind == "email_changed_notice"
    assert mask_email_for_mail(new_email) in text  # the domain masked too: mail clients link domains

    # The link is spent: opening it again says so and offers no button.
    response = other.goto(english(link))
    assert response.status == 409
    expect(other.locator("main form button[type=submit]")).to_have_count(0)


def test_email_change_is_confirmed_from_another_browser(page, other_page, citizen, live_mailbox):
    change_email_journey(page, other_page, citizen, live_mailbox)


def test_email_change_without_javascript(page_nojs, other_page_nojs, citizen, live_mailbox):
    change_email_journey(page_nojs, other_page_nojs, citizen, live_mailbox)


def test_email_change_with_a_wrong_password_sends_nothing(page, citizen, live_mailbox):
    log_in(page, citizen.username)
    new_email = new_address()
    form = page.locator(EMAIL_FORM)
    form.locator("input[name=email]").fill(new_email)
    form.locator("input[name=password]").fill("nem ez a jelszó")
    response = submit(page, form.locator("button[type=submit]").click)
    assert response.status == 422
    form = page.locator(EMAIL_FORM)
    expect(form.locator("input[name=password]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".field-error").last).to_contain_text("The current password is wrong")
    expect(form.locator("input[name=email]")).to_have_value(new_email)
    expect(form.locator("input[name=password]")).to_have_value("")
    assert kinds(live_mailbox, new_email) == []


# --- The password -------------------------------------------------------------------------------------------


def test_the_account_page_has_unique_ids(page, citizen):
    """Two forms share a page here; duplicate ids break labels, aria-describedby and the live-check targets."""
    log_in(page, citizen.username)
    ids = page.locator("[id]").evaluate_all("elements => elements.map(e => e.id)")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicates == [], f"duplicate ids on /account: {duplicates}"


def test_new_password_rules_are_told_live_in_the_password_form(page, citizen):
    log_in(page, citizen.username)
    url = page.url
    page.evaluate("window.__kapuNoReload = 'still here'")
    _, password, confirm = password_fields(page)
    error, confirm_error = error_region(page, password), error_region(page, confirm)
    # The regions belong to the password form, not to the e-mail form above it.
    expect(page.locator(PASSWORD_FORM).locator(".field-error")).to_have_count(3)
    assert page.locator(PASSWORD_FORM).locator(f"[id='{error.get_attribute('id')}']").count() == 1
    expect(error).to_have_attribute("aria-live", "polite")

    with page.expect_response(re.compile(r"/account/check/password$")):
        password.press_sequentially("rövidke")
    expect(error).to_contain_text("at least 15 characters")
    expect(password).to_have_attribute("aria-invalid", "true")
    # Nothing is told at the e-mail form's current-password field.
    email_form = page.locator(EMAIL_FORM)
    expect(email_form.locator(".field-error")).to_have_text(["", ""])
    expect(email_form.locator("input[name=password]")).not_to_have_attribute("aria-invalid", ANY_VALUE)

    password.fill(NEW_PASSWORD)
    expect(error).to_have_text("")
    expect(password).not_to_have_attribute("aria-invalid", ANY_VALUE)

    confirm.press_sequentially(NEW_PASSWORD + "x")
    expect(confirm_error).to_contain_text("do not match")
    confirm.fill(NEW_PASSWORD)
    expect(confirm_error).to_have_text("")

    # Typing in the e-mail form's password field does not re-check the new password's confirmation.
    checks = []
    page.on("request", lambda request: checks.append(request.url) if "/account/check/" in request.url else None)
    email_form.locator("input[name=password]").fill("valami más")
    email_form.locator("input[name=password]").blur()
    page.wait_for_timeout(400)
    assert checks == []

    assert page.url == url
    assert page.evaluate("window.__kapuNoReload") == "still here"


def test_password_change_keeps_this_session_and_ends_the_others(page, other_page, citizen):
    log_in(other_page, citizen.username)  # the phone, logged in earlier
    log_in(page, citizen.username)
    current, password, confirm = password_fields(page)
    current.fill(STRONG_PASSWORD)
    password.fill(NEW_PASSWORD)
    confirm.fill(NEW_PASSWORD)
    response = submit(page, page.locator(PASSWORD_FORM).locator("button[type=submit]").click)
    assert response.status == 303
    expect(page.locator("main [role=status]")).to_contain_text("Your password has been changed")

    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("h1")).to_have_text("Registration data")

    other_page.reload()
    expect(other_page).to_have_url(re.compile(r"/login$"))
    log_in(other_page, citizen.username, NEW_PASSWORD)  # the new password works there too


# --- Accessibility ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_forgotten_password_and_its_answer(axe_page, registered, language):
    response = axe_page.goto(in_language("/forgotten-password", language))
    assert response.status == 200
    assert_accessible(axe_page)
    response = ask_for_a_new_code(axe_page, registered.username, registered.email, language)
    assert response.status == 200
    assert axe_page.locator("html").get_attribute("lang") == language
    assert_accessible(axe_page)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("which", ["email", "password"])
def test_axe_account_after_a_wrong_current_password(axe_page, citizen, which, language):
    page = axe_page
    log_in(page, citizen.username)
    page.goto(in_language("/account", language))
    if which == "email":
        form = page.locator(EMAIL_FORM)
        form.locator("input[name=email]").fill(new_address())
        form.locator("input[name=password]").fill("nem ez a jelszó")
    else:
        form = page.locator(PASSWORD_FORM)
        current, password, confirm = (form.locator("input[type=password]").nth(i) for i in range(3))
        current.fill("nem ez a jelszó")
        password.fill(NEW_PASSWORD)
        confirm.fill(NEW_PASSWORD)
    response = submit(page, form.locator("button[type=submit]").click)
    assert response.status == 422
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator(".error-summary")).to_contain_text(
        {"en": "The current password is wrong", "hu": "jelenlegi jelszó"}[language]
    )
    assert_accessible(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_email_confirmation_page(axe_page, live_app, citizen, live_mailbox, language):
    from domain.account import request_email_change
    from models import Account

    new_email = new_address()
    with live_app.test_request_context():
        account = Account.get(Account.username == citizen.username)
        request_email_change(live_app.extensions["kapu"], account, new_email)
    response = axe_page.goto(in_language(confirmation_link(live_mailbox, new_email), language))
    assert response.status == 200
    assert axe_page.locator("html").get_attribute("lang") == language
    expect(axe_page.locator("main form button[type=submit]")).to_be_visible()
    assert_accessible(axe_page)
