"""Every mail in both languages: the HTML body has the recipient's `lang`, a title and a heading, and says the
same words with the same links as its plain-text twin; the one-time code stands grouped on its own line in
both. tests/browser/test_mail_browser.py opens the HTML bodies in Chromium and runs axe."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import mail
from tests.support.helpers import MAIL_CODE, mail_context

LANGUAGES = ["hu", "en"]
CODE_LINE = re.compile(r"^\s+([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})$", re.MULTILINE)
URL = re.compile(r"https?://\S+")


def composed(app, kind, language):
    with app.app_context():
        return mail.compose(kind, language, **mail_context(kind))


class MailPage(HTMLParser):
    """The words a reader of the HTML mail meets (outside <head>), its links, lang, title and headings."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.words, self.links, self.headings, self.open = [], [], [], []
        self.lang = self.title = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.open.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "a":
            self.links.append(attrs.get("href"))

    def handle_endtag(self, tag):
        while self.open and self.open.pop() != tag:
            pass

    def handle_data(self, data):
        if "title" in self.open:
            self.title = data.strip()
        elif "head" not in self.open:
            self.words += words(data)
            if "h1" in self.open:
                self.headings.append(data.strip())


def words(text):
    return re.findall(r"\w+", text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(mail.SUBJECTS))
def test_the_html_mail_and_its_text_twin_say_the_same(app, kind, language):
    subject, text, html = composed(app, kind, language)
    page = MailPage(html)
    assert page.lang == language
    assert page.title == subject
    assert page.headings == [subject]
    assert page.words == words(URL.sub(" ", text)), "the two bodies differ in wording"
    assert page.links == URL.findall(text), "the two bodies differ in links"
    assert "{{" not in text and "{{" not in html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["activation_code", "reset_code"])
def test_the_code_stands_grouped_on_its_own_line(app, kind, language):
    subject, text, html = composed(app, kind, language)
    assert CODE_LINE.findall(text) == [MAIL_CODE]
    [paragraph] = re.findall(r"<p style=\"([^\"]*)\">\s*" + MAIL_CODE + r"\s*</p>", html)
    assert "monospace" in paragraph and "white-space:nowrap" in paragraph
    size = float(re.search(r"font-size:([\d.]+)em", paragraph).group(1))
    assert size >= 1.5


@pytest.mark.parametrize("kind", sorted(mail.SUBJECTS))
def test_hungarian_and_english_mails_differ_in_every_sentence(app, kind):
    """Every Kapu-written sentence of the mail is translated (only names, links and the code are shared)."""
    _, hu_text, _ = composed(app, kind, "hu")
    _, en_text, _ = composed(app, kind, "en")
    shared = {line.strip() for line in hu_text.splitlines()} & {line.strip() for line in en_text.splitlines()}
    allowed = {"", "--", "Kapu", MAIL_CODE} | set(URL.findall(en_text))
    assert shared <= allowed, f"untranslated lines: {shared - allowed}"
