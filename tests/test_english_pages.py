"""Every word of the English pages is English: a visitor who switched to English walks the
public pages, the forms with and without errors, the notices, help, the account and the error pages, and no
Hungarian is left outside what people entered (names, notices as their author wrote them) and the language
switch. The Hungarian pages are the default and are checked by tests/test_i18n.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from domain import notices
from tests.support.helpers import STRONG_PASSWORD, csrf_token

# Letters English never uses, and common Hungarian words that carry none of them.
HUNGARIAN_LETTERS = re.compile(r"[áéíóöőúüű]", re.IGNORECASE)
HUNGARIAN_WORDS = re.compile(
    r"\b(az|és|egy|vagy|nem|hogy|kell|itt|ide|kapcsolat|fiok|jelszo|kod|ugyfel)\b", re.IGNORECASE
)
# What people entered: shown as written, in whatever language they wrote it.
FULL_NAME = "Kovács János"
NOTICE = {
    "title": "Karbantartás az ügyfélkapun",
    "body": "Szombaton 2 és 4 óra között nem érhető el.",
    "service": "Aktiválás",
    "still_works": "A bejelentkezés működik.",
    "contact": "ügyfélszolgálat",
}
ATTRIBUTES = {
    "aria-label",
    "title",
    "alt",
    "placeholder",
    "data-show",
    "data-hide",
    "data-show-label",
    "data-hide-label",
    "data-shown",
    "data-hidden",
}


class ReadableText(HTMLParser):
    """The text a visitor reads or hears: the page's text and labelling attributes, minus the language switch."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip_depth, self.depth = [], None, 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"input", "meta", "link", "br", "hr", "img"}:
            self._attributes(attrs)
            return
        self.depth += 1
        # A textarea holds what someone typed (a help article's Hungarian body at the editor's desk).
        if self.skip_depth is None and (
            "language-switch" in (attrs.get("class") or "") or tag in {"script", "style", "textarea"}
        ):
            self.skip_depth = self.depth
        self._attributes(attrs)

    def handle_endtag(self, tag):
        if tag in {"input", "meta", "link", "br", "hr", "img"}:
            return
        if self.skip_depth == self.depth:
            self.skip_depth = None
        self.depth -= 1

    def handle_data(self, data):
        if self.skip_depth is None and data.strip():
            self.parts.append(data.strip())

    def _attributes(self, attrs):
        if self.skip_depth is None:
            self.parts += [value for name, value in attrs.items() if name in ATTRIBUTES and value]

    @property
    def text(self):
        return "\n".join(self.parts)


def hungarian_leftovers(html, entered_too=()):
    text = ReadableText(html).text
    for entered in sorted((FULL_NAME, *NOTICE.values(), *entered_too), key=len, reverse=True):
        text = text.replace(entered, "")
    return [line for line in text.splitlines() if HUNGARIAN_LETTERS.search(line) or HUNGARIAN_WORDS.search(line)]


@pytest.fixture
def visitor(hu_app):
    client = hu_app.test_client()
    assert '<html lang="en">' in client.get("/?lang=en").get_data(as_text=True)
    return client


@pytest.fixture
def citizen(hu_app):
    """An active account registered in Hungarian (its name has Hungarian letters), and its first code's link."""
    from domain import activation, registration
    from tests.support.helpers import Mailbox

    services = hu_app.extensions["kapu"]
    with hu_app.test_request_context():
        registration.register(
            services,
            username="kovacs.janos",
            full_name=FULL_NAME,
            email="janos@example.hu",
            language="hu",
            channel="online",
        )
    mailbox = Mailbox(hu_app)
    link = mailbox.last_link()
    with hu_app.test_request_context():
        activation.activate(services, "kovacs.janos", mailbox.last_code(), STRONG_PASSWORD)
    return link


@pytest.fixture
def notices_both(hu_app):
    with hu_app.app_context():
        notices.add(**NOTICE)
        past = notices.add(**{**NOTICE, "title": NOTICE["title"]})
        notices.end(past.id)


def post(client, path, data, form_page=None):
    token = csrf_token(client, form_page or path)
    return client.post(path, data={"csrf_token": token, **data})


def assert_english(response, expected_status=200, entered_too=()):
    html = response.get_data(as_text=True)
    assert response.status_code == expected_status or (expected_status is None and response.status_code < 500)
    assert '<html lang="en">' in html
    leftovers = hungarian_leftovers(html, entered_too)
    assert not leftovers, f"Hungarian on an English page ({response.request.path}): {leftovers}"
    return html


PUBLIC_PAGES = [
    "/",
    "/activate",
    "/login",
    "/register",
    "/forgotten-password",
    "/notices",
    "/help",
    "/help/registration",
    "/help/activation",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_are_english(visitor, notices_both, path):
    html = assert_english(visitor.get(path))
    if path in ("/", "/notices"):
        assert NOTICE["title"] in html  # the notice as its author wrote it, its frame in English


def test_the_help_article_metadata_is_english(visitor):
    html = assert_english(visitor.get("/help/activation"))
    assert "Source: " in html and "Created: " in html and "Modified: " in html


def test_forms_with_errors_are_english(visitor, citizen):
    assert_english(
        post(visitor, "/activate", {"username": "x", "code": "nem jo", "password": "a", "password_confirm": "b"}), 422
    )
    assert_english(post(visitor, "/login", {"username": "kovacs.janos", "password": "nem ez"}), 401)
    assert_english(post(visitor, "/register", {"username": "", "full_name": "", "email": "nem email"}), 422)
    assert_english(post(visitor, "/forgotten-password", {"username": "", "email": ""}), 422)


def test_the_pages_after_success_are_english(visitor, citizen):
    assert_english(
        post(visitor, "/register", {"username": "nagy.eva", "full_name": "Nagy Eva", "email": "eva@example.hu"})
    )
    assert_english(post(visitor, "/forgotten-password", {"username": "kovacs.janos", "email": "janos@example.hu"}))
    assert_english(visitor.get(citizen), None)  # the used link: its own answer, in English


def test_the_account_page_is_english(visitor, citizen):
    response = post(visitor, "/login", {"username": "kovacs.janos", "password": STRONG_PASSWORD})
    assert response.status_code in (302, 303)
    html = assert_english(visitor.get("/account"))
    assert FULL_NAME in html
    assert_english(
        post(
            visitor,
            "/account/password",
            {"change-current_password": "nem ez", "change-password": "x", "change-password_confirm": "y"},
            form_page="/account",
        ),
        422,
    )


@pytest.mark.parametrize(("path", "status"), [("/nincs-ilyen-oldal", 404), ("/activate/nem-jo-link", 400)])
def test_error_pages_are_english(visitor, path, status):
    assert_english(visitor.get(path), status)


def test_a_refused_form_is_english(visitor):
    assert_english(visitor.post("/login", data={"username": "a", "password": "b"}), 400)  # no CSRF token


def test_the_checker_finds_hungarian():
    """The check itself: a Hungarian word or letter outside entered text is caught; the language switch is not."""
    page = '<nav class="language-switch"><a lang="hu">Magyar</a></nav><p>Log in</p>'
    assert hungarian_leftovers(page) == []
    assert hungarian_leftovers(page + "<p>Forrás: Kapu</p>") == ["Forrás: Kapu"]
    assert hungarian_leftovers(page + '<button aria-label="Show password">x</button>') == []
    assert hungarian_leftovers(page + '<button aria-label="Az oldal">x</button>') == ["Az oldal"]
    assert hungarian_leftovers(page + '<input value="Kovács" aria-label="Name">') == []  # what was typed
    assert hungarian_leftovers(f"<p>Dear {FULL_NAME},</p>") == []


def test_a_released_database_gets_the_english_source_line(tmp_path):
    """Upgrading a database made before the English source line existed fills it in for the shipped wording."""
    import migrations
    from models import Article
    from tests.support.helpers import open_sqlite, released_database

    database = open_sqlite(released_database(tmp_path / "kapu.db"))
    migrations.upgrade(database)
    with database.bind_ctx([Article]):
        sources = {a.slug: (a.source, a.source_in("en")) for a in Article.select()}
    database.close()
    assert sources["activation"] == (
        "Kapu, a Magyarország.hu súgója alapján",
        "Kapu, based on the help pages of magyarorszag.hu",
    )
    assert sources["registration"] == ("Kapu", "Kapu")  # no English given: the one line, as written


def test_an_editor_gives_the_source_line_in_both_languages(hu_app, visitor):
    from domain import help as articles

    with hu_app.app_context():
        articles.save(
            articles.by_slug("registration"),
            title_hu="Regisztráció",
            title_en="Registration",
            body_hu="Szöveg",
            body_en="Text",
            source="Kapu ügyfélszolgálat",
            source_en="Kapu help desk",
        )
    assert "Source: Kapu help desk" in assert_english(visitor.get("/help/registration"))
    assert "Forrás: Kapu ügyfélszolgálat" in visitor.get("/help/registration?lang=hu").get_data(as_text=True)


def last_mail(app, recipient):
    """The last mail to *recipient* as its reader gets it: subject, plain text and HTML."""
    from domain import outbox
    from models import OutboxMessage

    with app.app_context():
        message = (
            OutboxMessage.select().where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc()).first()
        )
        body = outbox.unseal(app.extensions["kapu"], message)
    return message.subject, body["text"], body["html"]


def assert_english_mail(app, recipient):
    subject, text, html = last_mail(app, recipient)
    assert '<html lang="en"' in html
    leftovers = hungarian_leftovers(html) + hungarian_leftovers(f"<p>{subject}</p>")
    leftovers += hungarian_leftovers("".join(f"<p>{line}</p>" for line in text.splitlines()))
    assert not leftovers, f"Hungarian in the English mail to {recipient}: {leftovers}"
    return text


def test_the_activation_answer_is_english(hu_app, visitor):
    """An account registered in Hungarian, activated by a visitor who switched to English."""
    from tests.support.helpers import Mailbox, register_citizen

    register_citizen(hu_app)
    code = Mailbox(hu_app).last_code()
    html = assert_english(
        post(
            visitor,
            "/activate",
            {
                "username": "kovacs.janos",
                "code": code,
                "password": STRONG_PASSWORD,
                "password_confirm": STRONG_PASSWORD,
            },
        )
    )
    assert 'href="/login"' in html


def test_a_mail_asked_for_on_an_english_page_is_english(hu_app, visitor, citizen):
    """The account was registered in Hungarian: the new code asked for in English comes in English."""
    assert_english(post(visitor, "/forgotten-password", {"username": "kovacs.janos", "email": "janos@example.hu"}))
    text = assert_english_mail(hu_app, "janos@example.hu")
    assert "one-time code" in text


def test_registering_in_english_mails_in_english(hu_app, visitor):
    assert_english(
        post(visitor, "/register", {"username": "nagy.eva", "full_name": FULL_NAME, "email": "eva@example.hu"})
    )
    assert_english_mail(hu_app, "eva@example.hu")
    # The same username again from another address: the mail telling that address so is English too.
    assert_english(
        post(visitor, "/register", {"username": "nagy.eva", "full_name": FULL_NAME, "email": "eva2@example.hu"})
    )
    assert_english_mail(hu_app, "eva2@example.hu")


def test_the_email_change_pages_and_mails_are_english(hu_app, visitor, citizen):
    response = post(visitor, "/login", {"username": "kovacs.janos", "password": STRONG_PASSWORD})
    assert response.status_code in (302, 303)
    asked = post(
        visitor, "/account/email", {"email": "uj.cim@example.hu", "password": STRONG_PASSWORD}, form_page="/account"
    )
    assert asked.status_code == 303
    assert_english(visitor.get(asked.headers["Location"]))  # the account page saying where the link went
    confirm_text = assert_english_mail(hu_app, "uj.cim@example.hu")
    # The warning to the old address keeps the account's language: its owner may not be the one asking.
    told_text = last_mail(hu_app, "janos@example.hu")[1]
    confirm = re.search(r"http://kapu\.test(/account/email/confirm/\S+)", confirm_text).group(1)
    cancel = re.search(r"http://kapu\.test(/account/email/cancel/\S+)", told_text).group(1)
    assert_english(visitor.get(cancel))
    page = assert_english(visitor.get(confirm))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    done = visitor.post(confirm, data={"csrf_token": token}, follow_redirects=True)
    assert_english(done)


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_the_desk_pages_are_english(hu_app, role):
    from models import Article
    from tests.support.helpers import STAFF_PASSWORD, add_staff

    add_staff(hu_app, f"ugyintezo.{role}", role, office="BP-V-OKM" if role == "clerk" else None)
    staff = hu_app.test_client()
    staff.get("/?lang=en")
    assert post(staff, "/login", {"username": f"ugyintezo.{role}", "password": STAFF_PASSWORD}).status_code == 303
    pages = ["/desk"] + (
        ["/desk/notices", "/desk/help", "/desk/help/activation", "/desk/audit"] if role == "admin" else []
    )
    with hu_app.app_context():  # the editors' list names each article in both languages, as they wrote them
        titles = [article.title_hu for article in Article.select()]
    for path in pages:
        assert_english(staff.get(path), entered_too=titles)
    if role == "clerk":  # an office's clerk registers citizens in person
        assert_english(post(staff, "/desk/register", {"username": "", "full_name": "", "email": "x"}, "/desk"), 422)


def test_the_notices_feed_is_english(visitor, notices_both):
    """The Atom feed's own words (its title, [Resolved], the labels in each entry) follow the visitor's language."""
    response = visitor.get("/notices.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = response.get_data(as_text=True)
    assert "[Resolved]" in feed and "Service notices" in feed
    leftovers = hungarian_leftovers(feed.replace("<?xml", "<!--").replace("?>", "-->", 1))
    assert not leftovers, f"Hungarian in the English feed: {leftovers}"
    hungarian = visitor.get("/notices.atom?lang=hu").get_data(as_text=True)
    assert hungarian_leftovers(hungarian.replace("<?xml", "<!--").replace("?>", "-->", 1)), "the check sees nothing"
