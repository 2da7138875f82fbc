"""Help articles: breadcrumbs, dates, source, both languages, safe Markdown, editing with a preview."""

import hashlib
import json
import re
import shutil
from pathlib import Path

from domain import clock, codes
from domain import help as articles
from models import Article, AuditEvent
from tests.support.helpers import STAFF_PASSWORD, csrf_token


def test_the_activation_article_has_breadcrumbs_dates_and_source(client):
    html = client.get("/help/activation?lang=hu").get_data(as_text=True)
    crumbs = re.search(r'<nav aria-label="([^"]*)" class="breadcrumbs">(.*?)</nav>', html, re.S)
    assert "Aktiválás, az ügyfélfiók megnyitása" in crumbs.group(2)
    assert re.findall(r">([^<]+)</a>", crumbs.group(2))[-1] == "Regisztráció és ügyfélfiók"
    assert 'aria-current="page"' in crumbs.group(2)
    assert "2026-11-25" in html and "Magyarország.hu" in html


def test_the_article_tells_the_seeds_facts_in_both_languages(client):
    hu = client.get("/help/activation?lang=hu").get_data(as_text=True)
    en = client.get("/help/activation?lang=en").get_data(as_text=True)
    for fact in (
        "okmányirodá",
        "kormányablak",
        "NAV",
        "konzulátus",
        "Regisztrációs adatok",
        "3 napon belül",
        "Elfelejtett jelszó",
        "Felhasználónév",
        "Egyszer használatos kód",
        "Új jelszó",
    ):
        assert fact in hu, fact
    for fact in (
        "document office",
        "government window",
        "tax authority",
        "consulate",
        "Registration data",
        "within 3 days",
        "Forgotten password",
        "Username",
        "One-time code",
        "New password again",
    ):
        assert fact in en, fact
    assert re.search(r"Username.*One-time code.*New password.*New password again", en, re.S)


def test_the_activation_page_links_to_the_article(client):
    assert 'href="/help/activation"' in client.get("/activate").get_data(as_text=True)


def test_unknown_articles_are_404(client):
    assert client.get("/help/no-such-article").status_code == 404
    assert client.get("/help/" + "x" * 500).status_code == 404


def test_markdown_with_script_renders_inert():
    html = articles.render(
        "Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
        "\n\n<a href='https://example.hu' onclick='evil()'>link</a>"
    )
    tags = re.findall(r"<[^>]+>", html)
    assert all(not re.match(r"<\s*(script|img|iframe)", tag) for tag in tags), tags
    assert all(not re.search(r"\son\w+\s*=", tag) and "javascript:" not in tag for tag in tags), tags
    assert "&lt;script&gt;" in html  # shown as text, inert


def test_an_admin_edits_with_a_preview_and_the_modified_date_updates(app, auth, client, frozen_clock):
    admin = auth.staff_login("admin.one", "admin")
    editor = admin.get("/desk/help/activation").get_data(as_text=True)
    assert "Aktiválás, az ügyfélfiók megnyitása" in editor
    token = csrf_token(admin, "/desk/help/activation")
    data = {
        "csrf_token": token,
        "title_hu": "Aktiválás",
        "title_en": "Activation",
        "body_hu": "Új **szöveg** <script>alert(1)</script>",
        "body_en": "New text",
        "source": "Kapu",
    }
    preview = admin.post("/desk/help/activation", data={**data, "action": "preview"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<strong>szöveg</strong>" in page and "<script>alert" not in page
    assert "Aktiválás, az ügyfélfiók megnyitása" in client.get("/help/activation?lang=hu").get_data(as_text=True)
    frozen_clock.advance(days=400)
    admin = app.test_client()  # 400 days on, the staff session has long timed out
    auth.login("admin.one", STAFF_PASSWORD, client=admin)
    data["csrf_token"] = csrf_token(admin, "/desk/help/activation")
    saved = admin.post("/desk/help/activation", data={**data, "action": "save"})
    assert saved.status_code == 303
    html = client.get("/help/activation?lang=hu").get_data(as_text=True)
    assert "<strong>szöveg</strong>" in html and "2026-11-25" in html
    assert re.search(r"20\d\d-\d\d-\d\d", html.split("2026-11-25", 1)[1])
    assert "<script>alert" not in html


def test_help_index_lists_the_hierarchy(client):
    html = client.get("/help?lang=en").get_data(as_text=True)
    assert "Registration and your account" in html and "Activation: opening your account" in html


def test_the_article_shows_the_codes_shape_as_the_form_does(client):
    for language in ("hu", "en"):
        assert codes.EXAMPLE in client.get(f"/help/activation?lang={language}").get_data(as_text=True)


def test_a_release_brings_an_unedited_body_up_to_the_shipped_text_and_keeps_an_edited_one(app, tmp_path, frozen_clock):
    shipped = Path(articles.SHIPPED)
    folder = tmp_path / "help"
    shutil.copytree(shipped, folder)
    manifest = json.loads((folder / "articles.json").read_text(encoding="utf-8"))
    activation = next(entry for entry in manifest if entry["slug"] == "activation")
    earlier = {"hu": "Korábbi szöveg.", "en": "The text an earlier release shipped."}
    activation["earlier_bodies"] = {lang: [hashlib.sha256(text.encode()).hexdigest()] for lang, text in earlier.items()}
    (folder / "articles.json").write_text(json.dumps(manifest), encoding="utf-8")
    with app.app_context():
        Article.update(body_en=earlier["en"], body_hu="Az ügyintéző átírta.").where(
            Article.slug == "activation"
        ).execute()
        frozen_clock.advance(days=1)
        released = clock.now()
        articles.seed_articles(folder)
        article = Article.get(Article.slug == "activation")
        assert article.body_en == (shipped / "activation.en.md").read_text(encoding="utf-8")
        assert article.body_hu == "Az ügyintéző átírta."  # edited: kept
        assert article.modified_at >= released
        assert AuditEvent.get(AuditEvent.kind == "article_saved").detail == "activation (en)"
