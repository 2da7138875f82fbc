"""Service notices: CLI add/list/end, the banner on every page, past ones listed, a valid Atom feed."""

import re
import xml.etree.ElementTree as ET

import pytest

from models import Notice
from tests.support.helpers import csrf_token

ATOM = "{http://www.w3.org/2005/Atom}"
SEED_NOTICE = [
    "notice",
    "add",
    "--title",
    "E-aláírás szolgáltatás hibája",
    "--body",
    "Az e-aláírás hibája miatt a határozatok elektronikus kiadása szünetel.",
    "--service",
    "EESZT csatlakozási engedély",
    "--still-works",
    "A kérelem elektronikusan beadható.",
    "--contact",
    "EESZT Kontakt Center",
    "--detected-at",
    "2021-01-12T08:00",
]


def test_cli_add_list_and_end(runner, client):
    added = runner.invoke(args=SEED_NOTICE)
    assert added.exit_code == 0 and "Notice 1 published" in added.output
    listed = runner.invoke(args=["notice", "list"])
    assert "1\tactive\t2021-01-12 07:00" in listed.output  # stored in UTC
    assert runner.invoke(args=["notice", "end", "1"]).exit_code == 0
    assert "1\tended" in runner.invoke(args=["notice", "list"]).output
    missing = runner.invoke(args=["notice", "end", "99"])
    assert missing.exit_code != 0 and "no notice 99" in missing.output


def test_cli_refuses_bad_dates_with_one_line(runner):
    result = runner.invoke(args=["notice", "add", "--title", "T", "--body", "B", "--detected-at", "yesterday"])
    assert result.exit_code != 0 and "--detected-at" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--title", "Karban\u202etartás"),  # a bidi override: the banner on every page would read backwards
        ("--body", "Szombaton\x1b[2J"),
        ("--contact", "ügyfél\u200bszolgálat"),
        ("--title", "x" * 201),
        ("--still-works", "y" * 2001),
        ("--body", "   "),
    ],
)
def test_cli_refuses_the_text_the_desk_form_refuses(runner, option, value):
    given = {"--title": "Karbantartás", "--body": "Szombaton reggelig.", option: value}
    result = runner.invoke(args=["notice", "add", *[part for pair in given.items() for part in pair]])
    assert result.exit_code != 0 and option in result.output and "published" not in result.output
    assert runner.invoke(args=["notice", "list"]).output == ""


def test_cli_keeps_line_breaks_in_the_body_as_the_desk_form_does(app, runner):
    added = runner.invoke(args=["notice", "add", "--title", "Karbantartás", "--body", "Szombaton\r\nreggelig."])
    assert added.exit_code == 0, added.output
    with app.app_context():
        assert Notice.get().body == "Szombaton\nreggelig."


@pytest.mark.parametrize("path", ["/", "/activate", "/login", "/register", "/help/activation", "/notices"])
def test_an_active_notice_is_a_banner_on_every_page(runner, client, path):
    runner.invoke(args=SEED_NOTICE)
    html = client.get(path).get_data(as_text=True)
    banner = html[html.index('id="notice-banner"') : html.index("<main")]
    assert "E-aláírás szolgáltatás hibája" in banner and 'aria-labelledby="notice-banner-title"' in banner
    assert 'hx-trigger="every 60s"' in banner and 'hx-get="/notices/banner"' in banner


def test_the_banner_alone_is_served_for_polling_and_empties_when_ended(runner, client):
    runner.invoke(args=SEED_NOTICE)
    assert "E-aláírás" in client.get("/notices/banner").get_data(as_text=True)
    runner.invoke(args=["notice", "end", "1"])
    banner = client.get("/notices/banner").get_data(as_text=True)
    assert "E-aláírás" not in banner and 'id="notice-banner"' in banner
    assert "E-aláírás" not in client.get("/").get_data(as_text=True)


def test_a_notice_with_until_ends_by_itself(runner, client, frozen_clock):
    runner.invoke(
        args=[
            "notice",
            "add",
            "--title",
            "Planned maintenance",
            "--body",
            "Short break.",
            "--until",
            "2099-01-01T00:00",
        ]
    )
    assert "Planned maintenance" in client.get("/").get_data(as_text=True)
    frozen_clock.advance(days=365 * 80)
    assert "Planned maintenance" not in client.get("/").get_data(as_text=True)


def test_current_and_past_notices_are_listed_with_every_field(runner, client):
    runner.invoke(args=SEED_NOTICE)
    runner.invoke(args=["notice", "add", "--title", "Old outage", "--body", "Fixed."])
    runner.invoke(args=["notice", "end", "2"])
    html = client.get("/notices").get_data(as_text=True)
    current, past = html.split('id="past-title"')
    assert "E-aláírás szolgáltatás hibája" in current and "Old outage" in past
    for text in (
        "EESZT csatlakozási engedély",
        "A kérelem elektronikusan beadható.",
        "EESZT Kontakt Center",
        "2021-01-12 08:00",
    ):
        assert text in current


def test_the_atom_feed_is_valid(runner, client):
    runner.invoke(args=SEED_NOTICE)
    runner.invoke(args=["notice", "add", "--title", "Second <b>", "--body", "x & y"])
    response = client.get("/notices.atom")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{required}").text
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Second <b>", "E-aláírás szolgáltatás hibája"]
    for entry in entries:
        assert entry.find(f"{ATOM}id").text and entry.find(f"{ATOM}updated").text.endswith("Z")
    assert "x & y" in entries[0].find(f"{ATOM}content").text


def test_an_admin_manages_notices_at_the_desk(app, auth, client):
    admin = auth.staff_login("admin.one", "admin")
    form = admin.get("/desk/notices").get_data(as_text=True)
    # The language the notice is written in: the admin's own page language unless they choose the other.
    assert re.search(r'<option selected value="en">English</option>', form) and '<option value="hu">magyar' in form
    token = csrf_token(admin)
    bad = admin.post("/desk/notices", data={"csrf_token": token, "title": ""})
    assert bad.status_code == 422 and "error-summary" in bad.get_data(as_text=True)
    created = admin.post(
        "/desk/notices",
        data={
            "csrf_token": token,
            "service": "Ügyfélkapu",
            "title": "Lassú válaszidő",
            "body": "Terhelés.",
            "still_works": "",
            "contact": "",
            "severity": "disruption",
            "detected_at": "2026-11-25T10:00",
            "language": "hu",
        },
    )
    assert created.status_code == 303
    assert '<p lang="hu"><strong>Lassú válaszidő</strong>' in client.get("/").get_data(as_text=True)
    assert admin.post("/desk/notices/1/end", data={"csrf_token": token}).status_code == 303
    assert "Lassú válaszidő" not in client.get("/").get_data(as_text=True)


def test_a_notice_carries_the_language_it_is_written_in_on_pages_in_either_language(make_app):
    """On an English page a Hungarian notice's own words are marked lang="hu" (a screen reader switches voice);
    the labels around them stay the page's. The command line's default is the deployment's language."""
    app = make_app(KAPU_LANGUAGE="hu")
    runner, client = app.test_cli_runner(), app.test_client()
    assert runner.invoke(args=[*SEED_NOTICE]).exit_code == 0
    english = ["notice", "add", "--title", "Slow answers", "--body", "Under load.", "--language", "en"]
    assert runner.invoke(args=english).exit_code == 0
    with app.app_context():
        assert [n.language for n in Notice.select().order_by(Notice.id)] == ["hu", "en"]
    banner = client.get("/?lang=en").get_data(as_text=True)
    assert '<p lang="hu"><strong>E-aláírás szolgáltatás hibája</strong>' in banner
    assert 'What still works: <span lang="hu">A kérelem elektronikusan beadható.</span>' in banner
    assert '<p lang="en"><strong>Slow answers</strong>' in banner
    listed = client.get("/notices?lang=en").get_data(as_text=True)
    assert '<h3 id="notice-1" lang="hu">E-aláírás szolgáltatás hibája</h3>' in listed
    assert '<dt>What happened</dt><dd lang="hu">' in listed
    refused = runner.invoke(args=[*english[:-1], "de"])
    assert refused.exit_code != 0 and "--language" in refused.output


def test_a_notice_from_before_languages_were_recorded_is_left_unmarked(app, runner, client):
    assert runner.invoke(args=SEED_NOTICE).exit_code == 0
    with app.app_context():
        Notice.update(language=None).execute()  # as the upgrade leaves one published before it
    page = client.get("/notices").get_data(as_text=True)
    assert '<h3 id="notice-1">E-aláírás szolgáltatás hibája</h3>' in page and 'lang="hu"' not in page.split("<main")[-1]
