"""Admin pages of the desk: the audit log, service notices and help articles (edited with a preview)."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import get_locale

from domain import audit, notices
from domain import help as articles
from forms.desk import ArticleForm, AuditFilterForm, NoticeForm
from models import Article
from views.common import accepts_body, limited_per_client
from views.desk import staff_required

bp = Blueprint("desk_admin", __name__)
PER_PAGE = 50


@bp.get("/desk/audit")
@staff_required("admin")
def audit_log():
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("desk_audit.html", form=form, events=[], total=0, page=1, pages=1), 400
    page = form.page.data or 1
    events, total = audit.search(
        username=form.username.data or None,
        kind=form.kind.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        page=page,
        per_page=PER_PAGE,
    )
    return render_template(
        "desk_audit.html",
        form=form,
        events=events,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        args=_filter_args(form),
    )


def _filter_args(form):
    """The pagination links' query from the validated filter only: raw arguments could name url_for's own."""
    values = {
        "username": form.username.data,
        "kind": form.kind.data,
        "date_from": form.date_from.data.isoformat() if form.date_from.data else None,
        "date_to": form.date_to.data.isoformat() if form.date_to.data else None,
    }
    return {name: value for name, value in values.items() if value}


def _notices_page(form=None, status=200):
    form = form or NoticeForm(formdata=None, language=str(get_locale()))
    return render_template(
        "desk_notices.html", form=form, notices=notices.all_notices(), is_current=notices.is_current
    ), status


@bp.get("/desk/notices")
@staff_required("admin")
def notice_list():
    return _notices_page()


@bp.post("/desk/notices")
@staff_required("admin")
@limited_per_client
def add_notice():
    form = NoticeForm()
    if not form.validate():
        return _notices_page(form, 422)
    detected = _to_utc(form.detected_at.data) if form.detected_at.data else None
    notices.add(
        service=form.service.data,
        title=form.title.data,
        body=form.body.data,
        still_works=form.still_works.data or "",
        contact=form.contact.data or "",
        severity=form.severity.data,
        detected_at=detected,
        language=form.language.data,
        actor=g.account.username,
    )
    return redirect(url_for("desk_admin.notice_list"), code=303)


def _to_utc(local_naive):
    """A local (Budapest) time typed by an admin, as the naive UTC the database keeps."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return local_naive.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@bp.post("/desk/notices/<int:notice_id>/end")
@staff_required("admin")
@limited_per_client
def end_notice(notice_id):
    if notices.end(notice_id, actor=g.account.username) is None:
        abort(404)
    return redirect(url_for("desk_admin.notice_list"), code=303)


@bp.get("/desk/help")
@staff_required("admin")
def article_list():
    return render_template("desk_help.html", articles=list(Article.select().order_by(Article.slug)))


@bp.route("/desk/help/<slug>", methods=["GET", "POST"])
@accepts_body(ArticleForm.MAX_REQUEST_BYTES)
@staff_required("admin")
@limited_per_client
def edit_article(slug):
    """GET shows the editor; POST with action=preview renders both languages; action=save stores."""
    article = articles.by_slug(slug)
    if article is None:
        abort(404)
    form = ArticleForm(obj=article) if request.method == "GET" else ArticleForm()
    if request.method == "GET":
        return render_template("desk_article.html", form=form, article=article)
    if not form.validate():
        return render_template("desk_article.html", form=form, article=article), 422
    if request.form.get("action") == "save":
        articles.save(
            article,
            title_hu=form.title_hu.data,
            title_en=form.title_en.data,
            body_hu=form.body_hu.data,
            body_en=form.body_en.data,
            source=form.source.data,
            source_en=form.source_en.data,
            actor=g.account.username,
        )
        return redirect(url_for("help.show", slug=article.slug), code=303)
    preview = {"hu": articles.render(form.body_hu.data), "en": articles.render(form.body_en.data)}
    return render_template("desk_article.html", form=form, article=article, preview=preview)
