"""The admin pages take what an admin really types: audit filters, multi-line notices, long help articles."""

import re

import pytest

from domain import audit
from tests.support.helpers import csrf_token


@pytest.fixture
def admin(auth):
    return auth.staff_login("admin.one", "admin")


@pytest.fixture
def many_events(app):
    with app.app_context():
        for i in range(120):
            audit.record("test_event", "ok", username=f"user{i}")


def pagination_links(html):
    nav = re.search(r'<nav aria-label="[^"]*" class="pagination">(.*?)</nav>', html, re.S).group(1)
    return [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]*)"', nav)]


@pytest.mark.parametrize(
    "query",
    [
        "page=2&endpoint=x",
        "page=2&_external=1&_anchor=owned&_scheme=javascript",
        "page=2&_method=POST&values=1",
    ],
)
def test_audit_pagination_ignores_arguments_that_are_not_filters(admin, many_events, query):
    response = admin.get(f"/desk/audit?kind=test_event&{query}")
    assert response.status_code == 200
    links = pagination_links(response.get_data(as_text=True))
    assert sorted(links) == ["/desk/audit?page=1&kind=test_event", "/desk/audit?page=3&kind=test_event"]


def test_audit_pagination_keeps_every_validated_filter(admin, many_events):
    html = admin.get("/desk/audit?kind=test_event&date_from=2000-01-01&date_to=2999-12-31&page=2")
    links = pagination_links(html.get_data(as_text=True))
    assert (
        all(
            "kind=test_event" in link and "date_from=2000-01-01" in link and "date_to=2999-12-31" in link
            for link in links
        )
        and len(links) == 2
    )


def add_notice(admin, **fields):
    data = {
        "csrf_token": csrf_token(admin, "/desk/notices"),
        "service": "Ügyfélkapu",
        "title": "Karbantartás",
        "body": "Terhelés.",
        "still_works": "",
        "contact": "",
        "severity": "disruption",
        "detected_at": "2026-11-25T10:00",
        "language": "hu",
        **fields,
    }
    return admin.post("/desk/notices", data=data)


def test_a_notice_body_can_have_several_lines_and_shows_them_as_paragraphs(admin, client):
    body = "Az első sor.\r\nA második sor <b>kiemelve</b>.\r\n\r\nÚj bekezdés."
    assert add_notice(admin, body=body, still_works="Papíron:\r\nokmányirodában").status_code == 303
    page = client.get("/notices").get_data(as_text=True)
    assert "<p>Az első sor.<br>\nA második sor &lt;b&gt;kiemelve&lt;/b&gt;.</p>\n<p>Új bekezdés.</p>" in page
    assert "<p>Papíron:<br>\nokmányirodában</p>" in page
    banner = client.get("/").get_data(as_text=True)
    assert "Az első sor.<br>\nA második sor &lt;b&gt;" in banner and "<b>kiemelve" not in banner


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b[2J", "\u202e", "\t"])
def test_a_notice_body_still_refuses_other_control_characters(admin, control):
    response = add_notice(admin, body=f"Első sor\r\nmásik{control}sor")
    assert response.status_code == 422
    assert "Remove the invisible or control characters." in response.get_data(as_text=True)


def article_data(admin, body_hu, body_en="English text"):
    return {
        "csrf_token": csrf_token(admin, "/desk/help/activation"),
        "title_hu": "Aktiválás",
        "title_en": "Activation",
        "body_hu": body_hu,
        "body_en": body_en,
        "source": "Kapu",
        "action": "save",
    }


def test_a_help_article_at_the_field_cap_in_both_languages_is_saved(admin, client):
    # 50,000 characters of accented Hungarian and of 4-byte characters: far above the usual 64 KiB request.
    body_hu = ("Árvíztűrő tükörfúrógép ő ű\r\n" * 2000)[:49_990] + "VÉGE"
    body_en = "𝔸" * 49_999 + "Z"
    response = admin.post("/desk/help/activation", data=article_data(admin, body_hu, body_en))
    assert response.status_code == 303, response.status_code
    page = client.get("/help/activation?lang=hu").get_data(as_text=True)
    assert "VÉGE" in page and "\r" not in page
    assert "Z" in client.get("/help/activation?lang=en").get_data(as_text=True)


def test_a_help_article_over_the_cap_comes_back_with_the_text_kept(admin):
    body = "ő" * 50_001
    response = admin.post("/desk/help/activation", data=article_data(admin, body))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This is too long." in page and body in page


def test_the_help_editor_tells_the_browser_the_cap(admin):
    page = admin.get("/desk/help/activation").get_data(as_text=True)
    assert len(re.findall(r'<textarea[^>]*maxlength="50000"', page)) == 2


def test_other_forms_keep_the_small_request_cap(admin):
    response = admin.post(
        "/desk/notices", data={"csrf_token": csrf_token(admin, "/desk/notices"), "body": "x" * 70_000}
    )
    assert response.status_code == 413


def test_help_articles_mark_their_dates_for_machines(client):
    html = client.get("/help/activation?lang=en").get_data(as_text=True)
    created = re.search(r'Created: <time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)">(\d{4}-\d\d-\d\d)</time>', html)
    modified = re.search(r'Modified: <time datetime="([^"]+)">(\d{4}-\d\d-\d\d)</time>', html)
    assert created and modified
    assert created.group(1).startswith(created.group(2)) and created.group(2) == "2026-11-25"
