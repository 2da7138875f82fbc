"""Help articles: Markdown rendered through a sanitiser, breadcrumbs from the parent chain."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import nh3

import db
from domain import audit, clock
from models import Article, database

_ALLOWED_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "a",
    "code",
    "pre",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    "hr",
}
SLUG_SHAPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SHIPPED = Path(__file__).resolve().parent.parent / "content" / "help"
BODY_LANGUAGES = ("hu", "en")  # an article's body columns: body_hu, body_en


@functools.cache
def _markdown():
    """The parser, made at the first help page rather than at every start (markdown-it compiles its rules)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render(markdown_text: str) -> str:
    """Markdown to HTML with raw HTML disabled and the result sanitised (no script, no handlers, no styles)."""
    html = _markdown().render(markdown_text or "")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def by_slug(slug):
    return Article.get_or_none(Article.slug == slug) if slug and SLUG_SHAPE.match(slug) else None


def top_level():
    return list(Article.select().where(Article.parent.is_null()).order_by(Article.title_hu))


def save(article: Article, *, title_hu, title_en, body_hu, body_en, source, source_en="", actor=None):
    with database.atomic():
        article.title_hu, article.title_en = title_hu, title_en
        article.body_hu, article.body_en = body_hu, body_en
        article.source, article.source_en = source, source_en or ""
        article.modified_at = clock.now()
        article.save()
        audit.record("article_saved", "done", actor=actor, detail=article.slug)
    return article


@functools.cache
def _shipped_entries(folder: Path) -> tuple[dict, ...]:
    """The folder's articles.json, read once per process."""
    return tuple(json.loads((folder / "articles.json").read_text(encoding="utf-8")))


def _body(folder: Path, slug: str, language: str) -> str:
    return (folder / f"{slug}.{language}.md").read_text(encoding="utf-8")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _outdated(entries, stored) -> list[tuple[dict, str]]:
    """(entry, language) of every stored body that is still an earlier shipped text (its digest listed in the
    entry's `earlier_bodies`): nobody has edited it, so a release may bring it up to date."""
    return [
        (entry, language)
        for entry in entries
        if entry["slug"] in stored
        for language in BODY_LANGUAGES
        if _digest(stored[entry["slug"]][language]) in entry.get("earlier_bodies", {}).get(language, ())
    ]


def seed_articles(folder):
    """Add the shipped articles (content/help) that the database does not have yet, and bring a body nobody has
    edited up to the shipped text; edits are kept. Every start calls this: when there is nothing to do (the usual
    case) it only reads, and takes no write lock."""
    folder = Path(folder)
    entries = _shipped_entries(folder)
    query = Article.select(Article.slug, Article.body_hu, Article.body_en)
    stored = {
        a.slug: {"hu": a.body_hu, "en": a.body_en} for a in query.where(Article.slug.in_([e["slug"] for e in entries]))
    }
    if len(stored) == len(entries) and not _outdated(entries, stored):
        return
    with database.atomic():
        db.lock_key(database, "seed-help-articles")  # two servers starting at once: one adds, the other sees them
        stored = {a.slug: {"hu": a.body_hu, "en": a.body_en} for a in query}
        for entry, language in _outdated(entries, stored):
            body = getattr(Article, f"body_{language}")
            Article.update({body: _body(folder, entry["slug"], language), Article.modified_at: clock.now()}).where(
                Article.slug == entry["slug"], body == stored[entry["slug"]][language]
            ).execute()
            audit.record("article_saved", "done", actor="release", detail=f"{entry['slug']} ({language})")
        for entry in entries:
            if entry["slug"] in stored:
                continue
            created = datetime.fromisoformat(entry["created"])
            Article.create(
                slug=entry["slug"],
                parent=by_slug(entry["parent"]),
                title_hu=entry["title_hu"],
                title_en=entry["title_en"],
                source=entry["source"],
                source_en=entry.get("source_en", ""),
                created_at=created,
                modified_at=created,
                body_hu=_body(folder, entry["slug"], "hu"),
                body_en=_body(folder, entry["slug"], "en"),
            )
