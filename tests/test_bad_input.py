"""Bad input never yields a 500 (CONTRACT §3, SECURITY "Input and output").

Every route gets shaped bad input — missing, empty, huge, control characters, repeated keys, wrong types,
non-UTF-8 bytes, broken and forged tokens, no CSRF token — and must answer with a clear 4xx (the exact one
where the contract names it) and change nothing. Property tests then throw arbitrary text at every field.

A fresh app per test costs most of a second, so each test sends a whole table of cases to one app and
reports every case that misbehaves at once. With TESTING on, an exception in a view propagates into the
test client: that is the would-be 500, reported with the line that raised it.
"""

from __future__ import annotations

import io
import re
import traceback
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from models import Account, AuditEvent, OneTimeCode, OutboxMessage
from tests.support.helpers import STRONG_PASSWORD, csrf_token

SECRET = "test-secret-key-that-is-long-enough"  # KAPU_SECRET_KEY in tests/conftest.py
ACTIVATION_SALT = "kapu.link.activate"  # domain/links.py: f"kapu.link.{purpose}"
USERNAME = "kovacs.janos"  # the `registered` fixture's pending account
WRONG_CODE = "ABCDE-23456"  # well formed, never issued
PROJECT = Path(__file__).resolve().parents[1]
URLENCODED = "application/x-www-form-urlencoded"

# The three full forms, each with input that passes validation (the activation code is merely wrong).
FORMS = {
    "/activate": {
        "username": USERNAME,
        "code": WRONG_CODE,
        "password": STRONG_PASSWORD,
        "password_confirm": STRONG_PASSWORD,
    },
    "/register": {"username": "nagy.anna", "full_name": "Nagy Anna", "email": "anna@example.hu"},
    "/login": {"username": USERNAME, "password": STRONG_PASSWORD},
}
# What the valid baseline gets: a wrong code; "check your mail" (always); not activated yet.
BASELINE_STATUS = {"/activate": 400, "/register": 200, "/login": 401}
# Refused outright with control characters in them (SECURITY: names, usernames; e-mail via email-validator).
# Passwords may hold anything; in a code, whitespace-like controls are separators (a well-formed wrong code).
STRICT_FIELDS = {"username", "full_name", "email"}
LIVE_CHECKS = {"/activate/check": ("username", "code", "password", "password_confirm"), "/register/check": ("email",)}
CHECK_FIELDS = [(base, name) for base, names in LIVE_CHECKS.items() for name in names]
ALL_POSTS = ["/activate", "/activate/check/username", "/register", "/register/check/email", "/login", "/logout"]
GET_PAGES = {"/": 200, "/activate": 200, "/register": 200, "/login": 200, "/account": 303, "/healthz": 200,
             "/dev/mailbox": 200}
ANY_4XX = range(400, 500)
NOT_5XX = range(200, 500)

CONTROL_CHARACTERS = {
    "nul": "\x00",
    "c0": "\x01\x02",
    "escape": "\x1b[31m",
    "crlf": "\r\n",
    "tab": "\t",
    "del": "\x7f",
    "c1-nel": "\x85",
    "bidi-override": "\u202e",
    "zero-width": "\u200b",
    "bom": "\ufeff",
    "private-use": "\ue000",
}
NON_UTF8 = {
    "ff-fe": b"\xff\xfe",
    "lone-continuation": b"\x80",
    "overlong-nul": b"\xc0\x80",
    "encoded-surrogate": b"\xed\xa0\x80",
    "truncated": b"\xe2\x82",
}
JSON_VALUES = {"int": 123, "float": 1.5, "bool": True, "null": None, "list": ["a", "b"], "object": {"a": 1}}


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def app_config(app_config):
    """conftest's configuration with the rate limits out of the way: these tests send hundreds of posts
    from one address, and a 429 would hide the answer the input itself gets (tests/test_limits.py covers
    the limits). Values are the maxima config.py accepts."""
    return {
        **app_config,
        "KAPU_CLIENT_POSTS_PER_MINUTE": 100000,
        "KAPU_CLIENT_WRONG_CODES_PER_HOUR": 100000,
        "KAPU_CLIENT_MAILS_PER_HOUR": 100000,
        "KAPU_LOGIN_MAX_FAILURES": 100,
        "KAPU_CODE_MAX_ATTEMPTS": 1000,  # else the fifth wrong code voids the live code: a change, but no bug
        "KAPU_DEV_MAILBOX": "1",  # /dev/mailbox gets the junk too
    }


@pytest.fixture
def token(csrf):
    return csrf()


@pytest.fixture
def signer():
    return URLSafeTimedSerializer(SECRET, salt=ACTIVATION_SALT)


# ------------------------------------------------------------------------------------------- helpers


def snapshot(app):
    """What a refused request must leave alone: accounts, codes and the outbox."""
    with app.app_context():
        return {
            "accounts": [
                (a.id, a.username, a.full_name, a.email, a.status, a.password_hash, a.session_version)
                for a in Account.select().order_by(Account.id)
            ],
            "codes": [(c.id, c.used_at, c.voided_at) for c in OneTimeCode.select().order_by(OneTimeCode.id)],
            "outbox": OutboxMessage.select().count(),
        }


def strict_snapshot(app):
    """The above plus wrong-code counters and the audit trail: for requests refused before any work.

    A CSRF refusal's own audit event is the one entry such a request may add (every refusal is audited).
    """
    with app.app_context():
        return {
            **snapshot(app),
            "attempts": [c.failed_attempts for c in OneTimeCode.select().order_by(OneTimeCode.id)],
            "audit": AuditEvent.select().where(AuditEvent.kind != "csrf").count(),
        }


def account_status(app, username=USERNAME):
    with app.app_context():
        return Account.get(Account.username == username).status


def where_it_broke(error):
    """'ExcType: message — raised at file.py:line in func' (the deepest frame in the project's own code)."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if f.filename.startswith(str(PROJECT))
           and ".venv" not in f.filename and "/tests/" not in f.filename]
    place = f"{Path(own[-1].filename).relative_to(PROJECT)}:{own[-1].lineno} in {own[-1].name}" if own else "?"
    deepest = frames[-1]
    return (f"{type(error).__name__}: {str(error)[:160]} — raised at {place} "
            f"(innermost {Path(deepest.filename).name}:{deepest.lineno})")


class Cases:
    """Sends many requests to one app and collects every case that answers wrongly.

    *expected*: an int or a collection of ints (default: any 4xx). *unchanged*: None, "core" (snapshot) or
    "strict" (strict_snapshot) — what must be the same after the request as before it."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.problems: list[str] = []
        self.count = 0

    def get(self, label, path, expected=ANY_4XX, **options):
        return self.request("GET", label, path, expected, **options)

    def head(self, label, path, expected=ANY_4XX, **options):
        return self.request("HEAD", label, path, expected, **options)

    def post(self, label, path, expected=ANY_4XX, **options):
        return self.request("POST", label, path, expected, **options)

    def request(self, method, label, path, expected=ANY_4XX, *, html=True, unchanged=None, **kwargs):
        self.count += 1
        take = {"core": snapshot, "strict": strict_snapshot}.get(unchanged)
        before = take(self.app) if take else None
        try:
            response = self.client.open(path, method=method, **kwargs)
        except Exception as error:  # TESTING propagates what would be a 500
            self.problems.append(f"{label}: 500 — {where_it_broke(error)}")
            return None
        status = response.status_code
        wanted = (expected,) if isinstance(expected, int) else expected
        if status not in wanted:
            self.problems.append(f"{label}: got {status}, wanted {_describe(expected)}{_message_of(response)}")
        elif html and method != "HEAD" and status not in (301, 302, 303, 307, 308) \
                and response.mimetype != "text/html":
            self.problems.append(f"{label}: {status} answered as {response.mimetype}, not an HTML page")
        if take and take(self.app) != before:
            self.problems.append(f"{label}: {status}, but the database changed")
        return response

    def note(self, label, problem):
        self.problems.append(f"{label}: {problem}")

    def check(self):
        assert self.count, "no cases ran"
        assert not self.problems, f"{len(self.problems)} of {self.count} cases failed:\n  " + "\n  ".join(
            self.problems
        )


def _describe(expected):
    if isinstance(expected, int):
        return str(expected)
    if isinstance(expected, range):
        return f"{expected.start}-{expected.stop - 1}"
    return " or ".join(map(str, sorted(expected)))


def _message_of(response):
    match = re.search(r'<p class="error-message">(.*?)</p>|<h1>(.*?)</h1>', response.get_data(as_text=True))
    return f" ({(match.group(1) or match.group(2)).strip()[:100]})" if match else ""


def form_with(path, csrf_value, **changes):
    """The valid baseline of *path*'s form with some fields changed (None drops the field)."""
    data = {"csrf_token": csrf_value, **FORMS[path], **changes}
    return {k: v for k, v in data.items() if v is not None}


def with_confirmation(path, changes):
    """On /activate a changed password gets a matching confirmation, so only the change itself is tested."""
    if path == "/activate" and "password" in changes and "password_confirm" not in changes:
        changes = {**changes, "password_confirm": changes["password"]}
    return changes


def insert(value, junk):
    """Put *junk* inside an otherwise valid value, so only the junk can make it invalid."""
    at = value.index("@") if "@" in value else len(value) // 2
    return value[:at] + junk + value[at:]


def raw_body(pairs):
    """A urlencoded body byte for byte: str parts are percent-encoded as UTF-8, bytes go in as they are."""

    def enc(part):
        return part if isinstance(part, bytes) else quote(part, safe="").encode("ascii")

    return b"&".join(enc(k) + b"=" + enc(v) for k, v in pairs)


BOUNDARY = "kapu-test-boundary"


def multipart_file(csrf_value, content):
    """A multipart body with a file part, built by hand: the test client spools a big one to a temporary
    file it never closes (a ResourceWarning, an error under filterwarnings=error)."""
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_value}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="username"; filename="u.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def link_token(mailbox):
    return mailbox.last_link().rsplit("/", 1)[1]


# ---------------------------------------------------------------------------------------- GET routes

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


def test_pages_shrug_off_junk_query_strings_cookies_and_head(app, client):
    cases = Cases(app, client)
    for path, status in GET_PAGES.items():
        html = path != "/healthz"
        for query in JUNK_QUERIES:
            cases.get(f"GET {path}?{query[:40]}", f"{path}?{query}", status, html=html)
        for name, cookie in JUNK_COOKIES.items():
            cases.get(f"GET {path} with cookie {name}", path, status, html=html, headers={"Cookie": cookie})
        cases.head(f"HEAD {path}", path, status)
        cases.get(f"GET {path} as htmx", path, status, html=html, headers={"HX-Request": "true"})
    health = client.get("/healthz?lang=%00")
    assert health.is_json and health.get_json()["status"] == "ok"
    cases.check()


def test_wrong_methods_are_405(app, client):
    cases = Cases(app, client)
    for method, path in [("PUT", "/activate"), ("DELETE", "/register"), ("PATCH", "/login"), ("GET", "/logout"),
                         ("POST", "/healthz"), ("POST", "/dev/mailbox"), ("POST", "/"),
                         ("GET", "/activate/check/username"), ("GET", "/register/check/email"),
                         ("POST", "/activate/ABCDE"), ("PUT", "/activate/ABCDE")]:
        cases.request(method, f"{method} {path}", path, 405)
    cases.check()


# ---------------------------------------------------------------------------------------------- CSRF

CSRF_CASES = ["missing", "empty", "garbage", "truncated", "tampered", "other-session", "huge", "nul",
              "wrong-first-of-two", "header-garbage", "as-a-file"]


def _bad_csrf(case, app, good):
    """(form fields, headers) for one way of getting the CSRF token wrong."""
    if case == "other-session":
        foreign = csrf_token(app.test_client())
        assert foreign != good
        return {"csrf_token": foreign}, {}
    return {
        "missing": ({}, {}),
        "empty": ({"csrf_token": ""}, {}),
        "garbage": ({"csrf_token": "not-a-token"}, {}),
        "truncated": ({"csrf_token": good[:-5]}, {}),
        "tampered": ({"csrf_token": good[:-2] + ("AA" if not good.endswith("AA") else "BB")}, {}),
        "huge": ({"csrf_token": "A" * 50_000}, {}),
        "nul": ({"csrf_token": good[:10] + "\x00" + good[10:]}, {}),
        "wrong-first-of-two": (MultiDict([("csrf_token", "wrong"), ("csrf_token", good)]), {}),
        "header-garbage": ({}, {"X-CSRFToken": "garbage"}),
        "as-a-file": ({"csrf_token": (io.BytesIO(good.encode()), "token.txt")}, {}),
    }[case]


def test_a_post_without_a_valid_csrf_token_is_400_and_changes_nothing(app, client, registered, token):
    cases = Cases(app, client)
    for path in ALL_POSTS:
        fields = FORMS.get(path) or {"username": USERNAME, "email": "x@example.hu", "code": WRONG_CODE}
        for case in CSRF_CASES:
            extra, headers = _bad_csrf(case, app, token)
            if isinstance(extra, MultiDict):
                data = MultiDict(list(fields.items()) + list(extra.items(multi=True)))
            else:
                data = {**fields, **extra}
            cases.post(f"POST {path} csrf={case}", path, 400, unchanged="strict", data=data, headers=headers)
        # The token must be a form field or the header; inside a JSON body it does not count.
        cases.post(f"POST {path} csrf in JSON", path, 400, unchanged="strict", json={**fields, "csrf_token": token})
    assert account_status(app) == "pending"
    cases.check()


def test_logout_and_login_without_a_csrf_token_change_no_session(app, client, mailbox, registered, token):
    assert client.post("/activate", data=form_with("/activate", token, code=mailbox.last_code())).status_code == 200
    cases = Cases(app, client)
    cases.post("POST /login without token", "/login", 400, data=form_with("/login", None))
    assert client.get("/account").status_code == 303, "a login without a CSRF token logged in"
    assert client.post("/login", data=form_with("/login", token)).status_code == 303
    assert client.get("/account").status_code == 200
    cases.post("POST /logout without token", "/logout", 400)
    cases.post("POST /logout garbage token", "/logout", 400, data={"csrf_token": "x"})
    assert client.get("/account").status_code == 200, "a logout without a CSRF token ended the session"
    cases.check()


# ----------------------------------------------------------------------- missing, empty, blank fields


@pytest.mark.parametrize("path", list(FORMS))
def test_missing_empty_and_blank_fields_are_422(app, client, registered, token, path):
    cases = Cases(app, client)
    for blank, name in [(None, "missing"), ("", "empty"), ("   ", "spaces"), ("\t\r\n", "whitespace")]:
        everything = dict.fromkeys(FORMS[path], blank)
        cases.post(f"POST {path} all fields {name}", path, 422, unchanged="strict",
                   data=form_with(path, token, **everything))
        for field in FORMS[path]:
            response = cases.post(f"POST {path} {field} {name}", path, 422, unchanged="strict",
                                  data=form_with(path, token, **{field: blank}))
            if response is not None and response.status_code == 422 \
                    and f'id="{field}-error"' not in response.get_data(as_text=True):
                cases.note(f"POST {path} {field} {name}", f"422 without a #{field}-error message")
    assert account_status(app) == "pending"
    cases.check()


def test_empty_bodies_are_400(app, client):
    cases = Cases(app, client)
    for path in ALL_POSTS:
        cases.post(f"POST {path} no body", path, 400, unchanged="strict")
        cases.post(f"POST {path} empty urlencoded", path, 400, data=b"", content_type=URLENCODED)
    cases.check()


# ----------------------------------------------------------------------------------------- huge values

# Just over each field's own cap, and near the body cap: the field cap must answer, before any work.
FIELD_OVER_LIMIT = {
    "username": "a" * 65,
    "full_name": "N" * 201,
    "email": "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "hu",  # 311 characters
    "code": "ABCDE-23456" + " " * 30,  # longer than any code typed with separators
    "password": "x" * 257,
    "password_confirm": "x" * 257,
}
NEAR_CAP = 30_000  # twice that (a password and its confirmation) still fits under the 64 KiB body cap


@pytest.mark.parametrize("path", list(FORMS))
def test_overlong_fields_are_422_before_any_work(app, client, registered, token, path):
    cases = Cases(app, client)
    for field in FORMS[path]:
        near = "a" * NEAR_CAP + ("@example.hu" if field == "email" else "")
        for size, value in [("over its cap", FIELD_OVER_LIMIT[field]), ("near the body cap", near)]:
            cases.post(f"POST {path} {field} {size}", path, 422, unchanged="strict",
                       data=form_with(path, token, **with_confirmation(path, {field: value})))
    cases.check()


def test_bodies_over_the_cap_are_413(app, client, registered, token):
    cases = Cases(app, client)
    for path in ALL_POSTS:
        bodies = {
            "100 KB username": {"data": {"csrf_token": token, "username": "a" * 100_000}},
            "1 MB urlencoded": {"data": {"csrf_token": token, "username": "a" * 1_000_000}},
            "1 MB file": {"data": multipart_file(token, b"a" * 1_000_000),
                          "content_type": f"multipart/form-data; boundary={BOUNDARY}"},
            "1 MB raw": {"data": b"\x00" * 1_000_000, "content_type": "application/octet-stream"},
            "1 MB json": {"json": {"username": "a" * 1_000_000}, "headers": {"X-CSRFToken": token}},
            # 20 000 characters, 120 000 bytes once percent-encoded: the body is capped, not the text.
            "escaped é x 20000": {"data": {"csrf_token": token, "username": "é" * 20_000}},
        }
        for name, request in bodies.items():
            cases.post(f"POST {path} {name}", path, 413, unchanged="strict", **request)
    cases.check()


@pytest.mark.parametrize("path", list(FORMS))
def test_thousands_of_fields_or_repeats_are_refused_or_ignored_cleanly(app, client, registered, token, path):
    cases = Cases(app, client)
    many_names = [("csrf_token", token)] + [(f"f{i}", "x") for i in range(5000)] + list(FORMS[path].items())
    cases.post(f"POST {path} with 5000 extra fields", path, (413, BASELINE_STATUS[path]),
               unchanged=None if path == "/register" else "core", data=MultiDict(many_names))
    repeats = [("csrf_token", token)] + [(k, v) for k, v in FORMS[path].items() for _ in range(200)]
    cases.post(f"POST {path} every field x200", path, (413, BASELINE_STATUS[path]), data=MultiDict(repeats))
    assert account_status(app) == "pending"
    cases.check()


# ------------------------------------------------------------------------------ control characters


@pytest.mark.parametrize("path", list(FORMS))
def test_control_characters_in_any_field_never_500(app, client, registered, token, path):
    cases = Cases(app, client)
    for field in FORMS[path]:
        if field in STRICT_FIELDS:
            expected = 422
        elif field == "code":
            expected = (400, 422)
        else:  # passwords: refused or not, never a 500 (a wrong code or wrong password is a 4xx too)
            expected = ANY_4XX
        for name, junk in CONTROL_CHARACTERS.items():
            data = form_with(path, token, **with_confirmation(path, {field: insert(FORMS[path][field], junk)}))
            cases.post(f"POST {path} {field} with {name}", path, expected,
                       unchanged="strict" if expected == 422 else "core", data=data)
        cases.post(f"POST {path} {field} only NULs", path,
                   ANY_4XX if field in ("password", "password_confirm") else 422, unchanged="core",
                   data=form_with(path, token, **with_confirmation(path, {field: "\x00" * 20})))
    assert account_status(app) == "pending"
    cases.check()


ODD_UNICODE_USERNAMES = {
    "arabic-ligature": "\ufdfa" * 4,  # one character, 18 after NFKC
    "ff-ligature": "\ufb00" * 40,  # 40 characters, 80 after NFKC
    "j-caron": "ǰ" * 64,  # grows under casefold
    "sharp-s": "ß" * 64,  # 128 after casefold
    "roman-numeral": "Ⅻ" * 30,
    "dotted-I": "\u0130" * 40,
    "combining": "a\u0301" * 32,
    "dots": "..",
    "dashes": "---",
    "fullwidth": "ｋｏｖａｃｓ．ｊａｎｏｓ",  # NFKC makes it the registered username
}


def test_unicode_that_changes_under_nfkc_or_casefold_never_500(app, client, registered, token):
    cases = Cases(app, client)
    for path in FORMS:
        for name, username in ODD_UNICODE_USERNAMES.items():
            expected = (200, 422) if path == "/register" else (BASELINE_STATUS[path], 422)
            cases.post(f"POST {path} username {name}", path, expected, data=form_with(path, token, username=username))
    assert account_status(app) == "pending"
    cases.check()


def test_a_full_name_that_grows_under_nfkc_still_fits_its_column(app, client, token):
    """200 characters pass the form's cap, but NFKC turns U+FDFA into 18 characters: 3 600 characters go
    into a varchar(200) column. SQLite stores them; PostgreSQL refuses with a DataError — a 500 there."""
    response = client.post("/register", data=form_with("/register", token, full_name="\ufdfa" * 200))
    assert response.status_code in (200, 422)
    with app.app_context():
        stored = Account.get_or_none(Account.username == "nagy.anna")
        assert stored is None or len(stored.full_name) <= 200, f"stored full_name is {len(stored.full_name)} long"


# ---------------------------------------------------------------------------- repeated and extra keys


@pytest.mark.parametrize("path", list(FORMS))
def test_a_repeated_field_counts_once_with_its_first_value(app, client, registered, token, path):
    cases = Cases(app, client)
    for field, good in FORMS[path].items():
        rest = list(form_with(path, token, **{field: None}).items())
        cases.post(f"POST {path} {field} twice, empty first", path, 422, unchanged="strict",
                   data=MultiDict(rest + [(field, ""), (field, good)]))
        cases.post(f"POST {path} {field} twice, NUL second", path, BASELINE_STATUS[path],
                   data=MultiDict(rest + [(field, good), (field, "\x00")]))
    extra = form_with(path, token, status="active", is_admin="1", account_id="1", session_version="99",
                      __class__="x", meta="x", data="x", errors="x", live_fields="x")
    cases.post(f"POST {path} with unknown fields", path, BASELINE_STATUS[path], data=extra)
    assert account_status(app) == "pending"
    cases.check()


# --------------------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize("path", list(FORMS))
def test_a_file_upload_instead_of_text_is_a_clear_4xx(app, client, registered, token, path):
    cases = Cases(app, client)
    for field, good in FORMS[path].items():
        for name, upload in [("file", (io.BytesIO(good.encode()), "value.txt", "text/plain")),
                             ("empty file", (io.BytesIO(b""), "")),
                             ("binary file", (io.BytesIO(b"\x00\xff" * 100), "x.bin", "application/octet-stream"))]:
            cases.post(f"POST {path} {field} as {name}", path, ANY_4XX, unchanged="core",
                       data=form_with(path, token, **{field: upload}))
    # Multipart without a file in it is how some browsers send forms: the same answer as urlencoded.
    cases.post(f"POST {path} plain multipart", path, BASELINE_STATUS[path], data=form_with(path, token),
               content_type="multipart/form-data")
    assert account_status(app) == "pending"
    cases.check()


@pytest.mark.parametrize("path", list(FORMS))
def test_json_with_non_string_values_is_a_clear_4xx(app, client, registered, token, path):
    """Flask-WTF reads a JSON body as the form data: a number or an object where text belongs must not crash."""
    cases = Cases(app, client)
    for field in FORMS[path]:
        for kind, value in JSON_VALUES.items():
            # A list of strings reads as a repeated key (first value wins): a valid first value may pass.
            listed = kind == "list"
            cases.post(f"POST {path} JSON {field}={kind}", path,
                       [*ANY_4XX, BASELINE_STATUS[path]] if listed else ANY_4XX,
                       unchanged=None if listed else "core",
                       json={**form_with(path, token), field: value}, headers={"X-CSRFToken": token})
    for name, body in [("list", b'["a", "b"]'), ("pairs", b'[["username", "x"]]'), ("string", b'"text"'),
                       ("number", b"42"), ("null", b"null"), ("broken", b"{"), ("unclosed", b'{"username": "x"'),
                       ("non-utf8", b"\xff\xfe")]:
        cases.post(f"POST {path} JSON body {name}", path, ANY_4XX, unchanged="core", data=body,
                   content_type="application/json", headers={"X-CSRFToken": token})
    assert account_status(app) == "pending"
    cases.check()


ODD_CONTENT_TYPES = {
    "multipart without boundary": ("multipart/form-data", b"garbage"),
    "garbage multipart": ("multipart/form-data; boundary=xyz", b"garbage"),
    "nameless part": ("multipart/form-data; boundary=xyz",
                      b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--\r\n"),
    "unterminated multipart": ("multipart/form-data; boundary=xyz",
                               b'--xyz\r\nContent-Disposition: form-data; name="username"\r\n\r\nx'),
    "latin-1 charset": (f"{URLENCODED}; charset=latin-1", b"username=\xe9"),
    "text/plain": ("text/plain", b"csrf_token=x&username=y"),
    "xml": ("application/xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'e'>]><x>&e;</x>"),
}


def test_odd_content_types_are_400(app, client, registered):
    cases = Cases(app, client)
    for path in ALL_POSTS:
        for name, (content_type, body) in ODD_CONTENT_TYPES.items():
            cases.post(f"POST {path} {name}", path, 400, unchanged="strict", data=body, content_type=content_type)
    cases.check()


# ------------------------------------------------------------------------------------- non-UTF-8 bytes


def test_raw_non_utf8_bytes_make_the_body_unreadable_so_400(app, client, registered, token):
    """Werkzeug drops a urlencoded body that is not UTF-8 altogether: no CSRF token is left, so 400."""
    cases = Cases(app, client)
    for path in FORMS:
        cases.post(f"POST {path} b'username=\\xff\\xfe'", path, 400, unchanged="strict", data=b"username=\xff\xfe",
                   content_type=URLENCODED)
        for field in FORMS[path]:
            for name, raw in NON_UTF8.items():
                value = FORMS[path][field].encode()
                pairs = list(form_with(path, token, **{field: None}).items()) + [(field, value[:3] + raw + value[3:])]
                cases.post(f"POST {path} {field} with raw {name}", path, 400, unchanged="strict",
                           data=raw_body(pairs), content_type=URLENCODED)
    cases.check()


def test_percent_encoded_non_utf8_is_kept_as_text(app, client, registered, token):
    """Werkzeug keeps an escape that is not UTF-8 as the literal text "%FF": refused in a username and a
    code; a name or an address may hold a per cent sign, so there it can pass."""
    cases = Cases(app, client)
    for path in FORMS:
        for field, value in FORMS[path].items():
            for escaped in ("%ff%fe", "%c0%80", "%ed%a0%80", "%80"):
                typed = f"{quote(value[:3])}{escaped}{quote(value[3:])}".encode()
                body = raw_body(form_with(path, token, **with_confirmation(path, {field: None})).items())
                body += b"&" + field.encode() + b"=" + typed
                if path == "/activate" and field == "password":
                    body += b"&password_confirm=" + typed
                expected = 422 if field == "username" else (200, 422) if path == "/register" else ANY_4XX
                cases.post(f"POST {path} {field} with {escaped}", path, expected,
                           unchanged="core" if path != "/register" else None, data=body, content_type=URLENCODED)
    assert account_status(app) == "pending"
    cases.check()


# ------------------------------------------------------------------------------------- live checks

CHECK_VALUES = {
    "empty": "",
    "nul": "\x00",
    "control": "ab\x1b[2Jcd",
    "bidi": "abc\u202edef",
    "long": "a" * NEAR_CAP,
    "emoji": "🙂" * 50,
    "html": "<script>alert(1)</script>",
}


def test_live_checks_answer_any_text_with_a_fragment(app, client, registered, token):
    cases = Cases(app, client)
    for base, field in CHECK_FIELDS:
        url = f"{base}/{field}"
        for name, value in CHECK_VALUES.items():
            response = cases.post(f"POST {url} {name}", url, 200, unchanged="strict",
                                  data={"csrf_token": token, field: value})
            if response is not None and "<script>" in response.get_data(as_text=True):
                cases.note(f"POST {url} {name}", "unescaped <script> in the fragment")
        cases.post(f"POST {url} percent-encoded non-UTF-8", url, 200,
                   data=f"csrf_token={token}&{field}=ab%ff%fecd".encode(), content_type=URLENCODED)
        for name, other in [("NUL", "\x00"), ("10 KB", "a" * 10_000), ("control", "\x1b")]:
            data = {"csrf_token": token, field: STRONG_PASSWORD}
            data.update({n: other for n in ("username", "password", "code", "email") if n != field})
            cases.post(f"POST {url} with {name} neighbours", url, 200, data=data)
        for name, raw in NON_UTF8.items():
            cases.post(f"POST {url} raw {name}", url, 400, data=raw_body([("csrf_token", token), (field, b"ab" + raw)]),
                       content_type=URLENCODED)
    cases.check()


def test_live_checks_with_wrong_types_are_a_clear_answer(app, client, registered, token):
    cases = Cases(app, client)
    for base, field in CHECK_FIELDS:
        url = f"{base}/{field}"
        cases.post(f"POST {url} {field} as a file", url, (200, 400, 422),
                   data={"csrf_token": token, field: (io.BytesIO(b"abc"), "f.txt")})
        if base == "/activate/check" and field != "username":
            # The password rules read the username from the same form: it must be text there too.
            cases.post(f"POST {url} with the username as a file", url, (200, 400, 422),
                       data={"csrf_token": token, field: "some value 123", "username": (io.BytesIO(b"x"), "u.txt")})
        for kind in ("int", "float", "bool", "list", "object"):
            cases.post(f"POST {url} JSON {field}={kind}", url, (200, 400, 422),
                       json={field: JSON_VALUES[kind], "username": USERNAME}, headers={"X-CSRFToken": token})
    cases.check()


UNKNOWN_CHECKS = [
    "nope", "csrf_token", "__class__", "__dict__", "validate", "meta", "data", "errors", "populate_obj",
    "live_fields", "process", "Username", "username ", "%00", "username%00", "us%C3%A9rname", "%ff%fe",
    "%E2%80%AE", "a" * 10_000, "full_name", "..", "%2e%2e",
]


def test_unknown_check_field_names_are_404(app, client, token):
    cases = Cases(app, client)
    for base in LIVE_CHECKS:
        for field in UNKNOWN_CHECKS:
            cases.post(f"POST {base}/{field[:30]}", f"{base}/{field}", 404,
                       data={"csrf_token": token, "username": "x", "email": "x"})
    for field in ("username", "code", "password", "password_confirm"):  # not registration's live fields
        cases.post(f"POST /register/check/{field}", f"/register/check/{field}", 404,
                   data={"csrf_token": token, field: "x"})
    for path in ("/activate/check/", "/register/check/", "/activate/check/a/b"):
        cases.post(f"POST {path}", path, (404, 405), data={"csrf_token": token})
    cases.check()


# ------------------------------------------------------------------------------- /activate/<token>


def _tampered(real):
    payload, timestamp, signature = real.split(".")

    def swap(text, at):
        return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1:]

    return {
        "payload-byte": f"{swap(payload, 2)}.{timestamp}.{signature}",
        "timestamp-byte": f"{payload}.{swap(timestamp, 1)}.{signature}",
        "signature-byte": f"{payload}.{timestamp}.{swap(signature, 5)}",
        "signature-dropped": f"{payload}.{timestamp}",
        "signature-empty": f"{payload}.{timestamp}.",
        "extra-part": f"{real}.AAAA",
        "appended": real + "x",
        "prepended": "x" + real,
        "dots-swapped": real.replace(".", "!"),
        "truncated-1": real[:-1],
        "truncated-10": real[:-10],
        "truncated-half": real[: len(real) // 2],
        "payload-only": payload,
        "first-char": real[:1],
        "upper": real.upper(),
        "padded-to-512": real + "A" * (512 - len(real)),
        "over-512": real + "A" * (513 - len(real)),
    }


GARBAGE_TOKENS = {
    "x": "x",
    "dot": ".",
    "three-dots": "...",
    "a.b.c": "a.b.c",
    "nul": "%00",
    "nul-in-middle": "abc%00def.ghi.jkl",
    "non-utf8": "%ff%fe",
    "bidi": "%E2%80%AE",
    "accents": "é" * 10,
    "emoji": "🙂" * 20,
    "null": "null",
    "json": "%7B%22c%22%3A1%7D",
    "huge-1k": "A" * 1000,
    "huge-100k": "A" * 100_000,
    "percent-junk": "%zz",
    "spaces": "%20%20%20",
    "control": "%01%02%1b",
}


def _forged(signer, real_payload, code):
    """Tokens with a good signature (right key, right salt) and a payload of the wrong shape; plus tokens
    signed with the right key under another salt, no salt, no timestamp, or with another key."""
    c, sealed = real_payload
    other_row = _reseal(sealed, flip=0)
    payloads = {
        "null": None,
        "object": {"c": c, "k": sealed},
        "string": "hello",
        "number": 123,
        "empty-list": [],
        "one-item": [c],
        "three-items": [c, sealed, sealed],
        "reversed": [sealed, c],
        "readable-code (the old shape)": {"c": c, "k": code},
        "readable-code-list": [c, code],
        "c-string": [str(c), sealed],
        "c-float": [float(c), sealed],
        "c-null": [None, sealed],
        "c-object": [{"$gt": 0}, sealed],
        "c-list": [[c], sealed],
        "c-bool": [True, sealed],
        "c-negative": [-1, sealed],
        "c-zero": [0, sealed],
        "c-another-row": [c + 1, sealed],
        "c-int64-max": [2**63 - 1, sealed],
        "c-over-int64": [2**63, sealed],
        "c-huge": [2**70, sealed],
        "c-huge-negative": [-(2**70), sealed],
        "sealed-int": [c, 12345],
        "sealed-null": [c, None],
        "sealed-list": [c, [sealed]],
        "sealed-nested": [c, [[[[[[[[[[[[sealed]]]]]]]]]]]]],
        "sealed-byte-flipped": [c, other_row],
        "sealed-truncated": [c, sealed[:-4]],
        "sealed-short": [c, sealed[:8]],
        "sealed-not-base64": [c, "!" * len(sealed)],
        "sealed-nul": [c, "\x00" * 10],
        "sealed-long": [c, "A" * 300],
        "sealed-empty": [c, ""],
    }
    tokens = {f"signed {name}": signer.dumps(value) for name, value in payloads.items()}
    tokens["salt kapu.link.email-change"] = URLSafeTimedSerializer(SECRET, salt="kapu.link.email-change").dumps(
        real_payload)
    tokens["salt kapu.link.reset"] = URLSafeTimedSerializer(SECRET, salt="kapu.link.reset").dumps(real_payload)
    tokens["default salt"] = URLSafeTimedSerializer(SECRET).dumps(real_payload)
    tokens["untimed, right salt"] = URLSafeSerializer(SECRET, salt=ACTIVATION_SALT).dumps(real_payload)
    tokens["another key"] = URLSafeTimedSerializer("another-secret-key-that-is-long",
                                                   salt=ACTIVATION_SALT).dumps(real_payload)
    return tokens


def _send_links(app, client, tokens, expected):
    cases = Cases(app, client)
    for name, bad in tokens.items():
        url = f"/activate/{bad}"
        response = cases.get(f"GET link {name}", url, expected, unchanged="core")
        if response is not None and re.search(r'name="code"[^>]*value="[^"]+"', response.get_data(as_text=True)):
            cases.note(f"GET link {name}", "a refused link still filled in a code")
        head = cases.head(f"HEAD link {name}", url, expected, unchanged="core")
        if head is not None and head.get_data():
            cases.note(f"HEAD link {name}", "HEAD answered with a body")
    with app.app_context():
        attempts = [c.failed_attempts for c in OneTimeCode.select()]
    if any(attempts):
        cases.note("links", f"opening links counted wrong attempts: {attempts}")
    assert account_status(app) == "pending"
    return cases


def test_tampered_truncated_and_garbage_links_are_400_and_change_nothing(app, client, registered, mailbox):
    real = link_token(mailbox)
    tokens = {**_tampered(real), **GARBAGE_TOKENS}
    assert real not in tokens.values()
    _send_links(app, client, tokens, 400).check()


def _reseal(sealed, flip):
    """The sealed code with one byte changed: AES-GCM must refuse it."""
    import base64

    raw = bytearray(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4)))
    raw[flip] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_links_signed_right_but_shaped_wrong_or_for_another_purpose_are_400(app, client, registered, mailbox,
                                                                              signer):
    real = signer.loads(link_token(mailbox))
    assert isinstance(real, list) and real[0] > 0  # the shape domain/links.py signs: [row id, sealed code]
    code = mailbox.last_code().replace("-", "")
    assert code not in link_token(mailbox) and code not in str(real)  # opaque: the code is not in the URL
    _send_links(app, client, _forged(signer, real, code), 400).check()


def test_the_genuine_link_still_works_after_all_that(app, client, registered, mailbox, signer):
    real = link_token(mailbox)
    for bad in [*_tampered(real).values(), *list(_forged(signer, signer.loads(real), WRONG_CODE).values())[:10]]:
        client.get(f"/activate/{bad}")
    head = client.head(f"/activate/{real}")
    assert head.status_code == 303 and head.get_data() == b""
    response = client.get(f"/activate/{real}", follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/activate"
    assert f'value="{mailbox.last_code()}"' in response.get_data(as_text=True)
    assert account_status(app) == "pending"


def test_link_urls_that_are_not_one_token(app, client, registered, mailbox, token):
    cases = Cases(app, client)
    for path in ("/activate/", "/activate/a/b", "/activate//", "/activate/%2F"):
        cases.get(f"GET {path}", path, 404, unchanged="core")
    cases.post("POST to a genuine link", mailbox.last_link(), 405, unchanged="core", data={"csrf_token": token})
    cases.check()


# ------------------------------------------------------------------------------- the mailbox page


def test_the_mailbox_shows_odd_but_valid_registrations_escaped(client, token):
    markup = client.post("/register", data=form_with("/register", token, full_name="<script>alert(1)</script>",
                                                     email="jános@példa.hu", username="Kiss.Ödön"))
    assert markup.status_code == 422 and "<script>alert(1)</script>" not in markup.get_data(as_text=True)
    name = "Ő'Kiss-Nagy \u00a0Ödön"  # an apostrophe, a hyphen and a no-break space (NFKC: a space)
    response = client.post("/register", data=form_with("/register", token, full_name=name, email="jános@példa.hu",
                                                       username="Kiss.Ödön"))
    assert response.status_code == 200
    mailbox = client.get("/dev/mailbox")
    assert mailbox.status_code == 200
    page = mailbox.get_data(as_text=True)
    assert "Ő&#39;Kiss-Nagy" in page and "Ő'Kiss" not in page


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


def _walk_every_route(app, client, token, label):
    """GET every rule with junk in its arguments; POST to it without a CSRF token, then with junk in every
    field, files in every field, and JSON numbers in every field. Anything but a 5xx will do here: the exact
    answers of the activation journey are pinned above; this catches routes added since."""
    cases = Cases(app, client)
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule == "/logout")
    for rule in rules:
        for arg_junk in ARG_JUNK if rule.arguments else [""]:
            url = _url(rule, arg_junk)
            if "GET" in rule.methods:
                cases.get(f"{label} GET {url[:60]}", url, NOT_5XX, html=False)
            if "POST" not in rule.methods:
                continue
            cases.post(f"{label} POST {url[:60]} without CSRF", url, (400, 401, 403, 404), html=False,
                       data={"x": "y"})
            if url == "/logout":
                continue
            names = _field_names(client, rule)
            for name, junk in ROUTE_JUNK.items():
                cases.post(f"{label} POST {url[:60]} every field {name}", url, NOT_5XX, html=False,
                           data={"csrf_token": token, **dict.fromkeys(names, junk)})
            cases.post(f"{label} POST {url[:60]} every field a file", url, NOT_5XX, html=False,
                       data={"csrf_token": token, **{n: (io.BytesIO(b"x"), "x.txt") for n in names}})
            cases.post(f"{label} POST {url[:60]} JSON numbers", url, NOT_5XX, html=False,
                       json={"csrf_token": token, **dict.fromkeys(names, 7)}, headers={"X-CSRFToken": token})
    return cases


def test_every_route_in_the_url_map_survives_junk_anonymous(app, client, registered, token):
    cases = _walk_every_route(app, client, token, "anonymous")
    assert account_status(app) == "pending"
    cases.check()


def test_every_route_in_the_url_map_survives_junk_logged_in(app, client, registered, mailbox, token):
    assert client.post("/activate", data=form_with("/activate", token, code=mailbox.last_code())).status_code == 200
    assert client.post("/login", data=form_with("/login", token)).status_code == 303
    fresh = csrf_token(client, "/login")  # login starts a new session with a new token
    _walk_every_route(app, client, fresh, "logged in").check()


# ---------------------------------------------------------------------------------- property tests


def _url_encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot travel in a form body
        return False
    return True


ANY_TEXT = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=80),  # surrogates and controls included
    st.text(st.characters(max_codepoint=0x9F), max_size=40),  # ASCII with the C0 and C1 controls
    st.text(st.sampled_from("\x00\t\r\n\x1b\x7f\x85\u200b\u202e\ufeff\ue000\ufdfa\ufb00ǰßİé🙂 -._@"), max_size=30),
    st.text(st.sampled_from("23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdef -"), min_size=8, max_size=14),  # code-like
    st.text(max_size=300),
).filter(_url_encodable)
# What arbitrary input may get: refused (422), or carried to the domain and turned down there.
ARBITRARY_STATUS = {"/activate": {400, 422}, "/register": {200, 422}, "/login": {401, 422}}
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("path", list(FORMS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_property_arbitrary_text_in_any_field_never_500(app, client, registered, token, path, data):
    fields = data.draw(
        st.fixed_dictionaries({name: st.one_of(st.just(value), ANY_TEXT) for name, value in FORMS[path].items()}),
        label="fields",
    )
    response = client.post(path, data={"csrf_token": token, **fields})
    assert response.status_code in ARBITRARY_STATUS[path]
    assert response.mimetype == "text/html"
    assert account_status(app) == "pending"


@PROPERTY_SETTINGS
@given(base=st.sampled_from(list(LIVE_CHECKS)), name=ANY_TEXT, value=ANY_TEXT)
def test_property_arbitrary_check_names_and_values_never_500(client, token, base, name, value):
    response = client.post(f"{base}/{quote(name, safe='')}", data={"csrf_token": token, name or "x": value,
                                                                   "username": value})
    # An escaped "/" makes more path segments: 404, or a 308 where Werkzeug merges "//".
    assert response.status_code in ({200} if name in LIVE_CHECKS[base] else {404, 308} if "/" in name else {404})
    assert response.mimetype == "text/html"


@PROPERTY_SETTINGS
@given(tail=st.text(st.characters(codec="ascii"), max_size=600))
def test_property_arbitrary_link_tokens_never_500(app, client, registered, tail):
    response = client.get(f"/activate/{quote(tail, safe='')}") if tail else client.get("/activate")
    # An escaped "/" splits the token into two path segments: 404, or a 308 where Werkzeug merges "//".
    assert response.status_code in ({200} if not tail else {400, 404, 308})
    assert account_status(app) == "pending"
