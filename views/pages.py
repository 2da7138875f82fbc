"""The start page and the health check."""

from flask import Blueprint, current_app, jsonify, render_template

from models import database

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    return render_template("home.html")


@bp.get("/healthz")
def health():
    try:
        database.execute_sql("SELECT 1").fetchone()
    except Exception:  # any database failure means "not healthy"
        return jsonify(status="unavailable", database="down"), 503
    mail = "smtp" if current_app.config["KAPU_SMTP_HOST"] else "mailbox"
    return jsonify(status="ok", database="ok", mail=mail)
