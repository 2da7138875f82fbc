"""The bare Flask baseline `make bench` compares Kapu with: a static 2 KB page and a tiny POST partial.

What any Flask app costs under the same server on the same machine in the same run; Kapu's figures are
reported as ratios to these, since absolute numbers drift on a shared machine.
"""

from flask import Flask, request

PARAGRAPH = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.</p>\n"
PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Baseline</title></head><body>\n'
    + PARAGRAPH * 20
    + "</body></html>\n"
)

app = Flask(__name__)


@app.get("/page")
def page():
    return PAGE


@app.post("/partial")
def partial():
    return f"<p>{len(request.form.get('value', ''))}</p>"


def served():
    """The baseline app, for gunicorn started with `serve`'s worker (turn_worker.TurnTakingWorker), as Kapu is."""
    return app
