"""Every route survives junk: pages shrug off junk query strings and cookies, wrong methods are 405, and every
rule in the URL map (routes added later included) answers junk arguments and fields without a 5xx.

Each test sends a whole table of cases to one app (a fresh app costs most of a second), one subtest a case.
With TESTING on, an exception in a view propagates into the test client: that is the would-be 500.
"""

from __future__ import annotations

import io
import re

import pytest

from tests.support.helpers import NO_LIMITS, NOT_5XX, account_status, answers, csrf_token

GET_PAGES = {
    "/": 200,
    "/activate": 200,
    "/register": 200,
    "/login": 200,
    "/account": 303,
    "/healthz": 200,
    "/dev/mailbox": 200,
}


@pytest.fixture
def app_config(app_config):
    return {**app_config, **NO_LIMITS, "KAPU_DEV_MAILBOX": "1"}  # /dev/mailbox gets the junk too


JUNK_QUERIES = [
    "lang=%00",
    "lang=xx",
    "lang=%ff%fe",
    "lang=en&lang=hu",
    "lang=" + "a" * 10_000,
    "a=%00&b=%ff&c=%E2%80%AE&c=1",
    "%ff=%fe",
    "&&&==&",
    "lang[]=en",
    "next=http://evil.example/",
]
JUNK_COOKIES = {
    "garbage": "session=garbage",
    "long": "session=" + "A" * 4000,
    "forged-shape": "session=eyJ4Ijoxfq.AAAA.BBBB",
    "control": "session=\x7f\x01",
    "non-utf8-name": "lang=%ff",
}


def test_pages_shrug_off_junk_query_strings_cookies_and_head(app, client, subtests):
    for path, status in GET_PAGES.items():
        html = path != "/healthz"
        for query in JUNK_QUERIES:
            with subtests.test(f"GET {path}?{query[:40]}"):
                answers(app, client, "GET", f"{path}?{query}", status, html=html)
        for name, cookie in JUNK_COOKIES.items():
            with subtests.test(f"GET {path} with cookie {name}"):
                answers(app, client, "GET", path, status, html=html, headers={"Cookie": cookie})
        with subtests.test(f"HEAD {path}"):
            answers(app, client, "HEAD", path, status)
        with subtests.test(f"GET {path} as htmx"):
            answers(app, client, "GET", path, status, html=html, headers={"HX-Request": "true"})
    health = client.get("/healthz?lang=%00")
    assert health.is_json and health.get_json()["status"] == "ok"


def test_wrong_methods_are_405(app, client, subtests):
    for method, path in [
        ("PUT", "/activate"),
        ("DELETE", "/register"),
        ("PATCH", "/login"),
        ("GET", "/logout"),
        ("POST", "/healthz"),
        ("POST", "/dev/mailbox"),
        ("POST", "/"),
        ("GET", "/activate/check/username"),
        ("GET", "/register/check/email"),
        ("POST", "/activate/ABCDE"),
        ("PUT", "/activate/ABCDE"),
    ]:
        with subtests.test(f"{method} {path}"):
            answers(app, client, method, path, 405)


# ------------------------------------------------------- every route in the URL map, including new ones

ROUTE_JUNK = {
    "nul": "\x00",
    "control": "a\x1b[2Jb\x7f",
    "bidi": "\u202e" * 3,
    "10 KB": "a" * 10_000,
    "html": "<script>x</script>",
}
ARG_JUNK = ["%00", "A" * 2000, "%ff%fe", "..", "%E2%80%AE", "x.y.z"]


def _url(rule, junk):
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", junk, path)
    return path


def _field_names(client, rule):
    """Every name Kapu's forms use, plus the inputs of the page that shows this form (its GET twin)."""
    names = {"username", "full_name", "email", "code", "password", "password_confirm", "current_password"}
    page = client.get(rule.rule) if "GET" in rule.methods and not rule.arguments else None
    if page is not None and page.status_code == 200:
        names |= set(re.findall(r'<input[^>]* name="([^"]+)"', page.get_data(as_text=True)))
    return sorted(names - {"csrf_token"})


def junk_forms(names, token):
    """(label, request) for each way of filling the fields *names* with junk: each kind of junk text in every field,
    a file in every field, and JSON numbers in every field."""
    forms = [
        (f"every field {kind}", {"data": {"csrf_token": token, **dict.fromkeys(names, junk)}})
        for kind, junk in ROUTE_JUNK.items()
    ]
    forms.append(
        ("every field a file", {"data": {"csrf_token": token, **{n: (io.BytesIO(b"x"), "x.txt") for n in names}}})
    )
    forms.append(
        ("JSON numbers", {"json": {"csrf_token": token, **dict.fromkeys(names, 7)}, "headers": {"X-CSRFToken": token}})
    )
    return forms


def walk_every_route(app, client, subtests, token, label):
    """GET every rule with junk in its arguments; POST to it without a CSRF token, then with junk in its fields.
    Anything but a 5xx will do here: the exact answers of the forms and links are pinned in test_bad_input_forms.py
    and test_bad_input_links.py; this catches routes added since.

    A junk argument is turned away before any form is read (the same 400, 403 or 404 whatever the body, or 413 for
    the 10 KB fields): every junk form goes to the first junk argument, one each to the others."""
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule == "/logout")
    for rule in rules:
        for i, arg_junk in enumerate(ARG_JUNK if rule.arguments else [""]):
            url = _url(rule, arg_junk)
            if "GET" in rule.methods:
                with subtests.test(f"{label} GET {url[:60]}"):
                    answers(app, client, "GET", url, NOT_5XX, html=False)
            if "POST" not in rule.methods:
                continue
            with subtests.test(f"{label} POST {url[:60]} without CSRF"):
                answers(app, client, "POST", url, (400, 401, 403, 404), html=False, data={"x": "y"})
            if url == "/logout":
                continue
            forms = junk_forms(_field_names(client, rule), token)
            for kind, request in forms if i == 0 else [forms[i % len(forms)]]:
                with subtests.test(f"{label} POST {url[:60]} {kind}"):
                    answers(app, client, "POST", url, NOT_5XX, html=False, **request)


def test_every_route_in_the_url_map_survives_junk_anonymous(app, client, registered, subtests):
    walk_every_route(app, client, subtests, csrf_token(client), "anonymous")
    assert account_status(app) == "pending"


def test_every_route_in_the_url_map_survives_junk_logged_in(app, client, logged_in, subtests):
    walk_every_route(app, client, subtests, csrf_token(client, "/login"), "logged in")
