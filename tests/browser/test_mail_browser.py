"""HTML mails opened as pages in Chromium pass axe (every rule, any impact) in both languages, and show the
one-time code large, monospaced and on one line. The same-words check against the
plain-text twin is in tests/test_mail_accessibility.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import mail
from domain import outbox
from models import OutboxMessage
from tests.support.browser import LANGUAGES, assert_accessible
from tests.support.helpers import MAIL_CODE, mail_context

pytestmark = pytest.mark.browser


def open_mail(page, html):
    """The mail as a mail client's HTML view shows it: its own document, nothing of the site around it."""
    page.goto("about:blank")
    page.set_content(html)


def code_looks(page, code):
    paragraph = page.get_by_text(code, exact=True)
    expect(paragraph).to_be_visible()
    return paragraph.evaluate(
        """(p) => { const s = getComputedStyle(p), body = getComputedStyle(document.body);
                    const r = p.getBoundingClientRect();
                    return {family: s.fontFamily, size: parseFloat(s.fontSize), body: parseFloat(body.fontSize),
                            lines: Math.round(r.height / parseFloat(s.lineHeight))}; }"""
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(mail.SUBJECTS))
def test_every_mail_passes_axe(axe_page, live_app, kind, language):
    with live_app.app_context():
        subject, _, html = mail.compose(kind, language, **mail_context(kind))
    open_mail(axe_page, html)
    assert axe_page.locator("html").get_attribute("lang") == language
    assert axe_page.title() == subject
    assert_accessible(axe_page)
    if "code" in mail_context(kind):
        looks = code_looks(axe_page, MAIL_CODE)
        assert "monospace" in looks["family"].lower() or "courier" in looks["family"].lower()
        assert looks["size"] >= 1.5 * looks["body"]


@pytest.mark.parametrize("width", [320, 640])
def test_the_code_stays_on_one_line_on_a_narrow_screen(axe_page, live_app, width):
    axe_page.set_viewport_size({"width": width, "height": 640})
    with live_app.app_context():
        _, _, html = mail.compose("activation_code", "hu", **mail_context("activation_code"))
    open_mail(axe_page, html)
    assert code_looks(axe_page, MAIL_CODE)["lines"] == 1
    assert axe_page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_mail_in_the_outbox_passes_axe(axe_page, live_app, registered):
    """The real thing: the sealed HTML body the registration put in the outbox, opened."""
    with live_app.app_context():
        message = (
            OutboxMessage.select()
            .where(OutboxMessage.recipient == registered.email)
            .order_by(OutboxMessage.id.desc())
            .get()
        )
        html = outbox.unseal(live_app.extensions["kapu"], message)["html"]
    open_mail(axe_page, html)
    assert axe_page.locator("html").get_attribute("lang") == "hu"
    code_looks(axe_page, registered.code)
    assert_accessible(axe_page)
