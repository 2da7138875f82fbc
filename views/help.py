"""Help articles with breadcrumbs, dates and source, in the visitor's language."""

from flask import Blueprint, abort, render_template
from flask_babel import get_locale

from domain import help as articles

bp = Blueprint("help", __name__)


@bp.get("/help")
def index():
    return render_template("help_index.html", articles=articles.top_level(), language=str(get_locale()))


@bp.get("/help/<slug>")
def show(slug):
    article = articles.by_slug(slug)
    if article is None:
        abort(404)
    language = str(get_locale())
    return render_template(
        "help_article.html", article=article, language=language, body=articles.render(article.body(language))
    )
