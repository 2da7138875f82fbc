"""The forms (/activate, /register, /login, /logout and the live checks) answer bad input with a clear 4xx and
change nothing: no or broken CSRF token, missing, empty, huge, control characters, repeated keys, wrong types,
non-UTF-8 bytes; then property tests throw arbitrary text at every field. Never a 500, whatever is posted.

Each test sends a whole table of cases to one app (a fresh app costs most of a second), one subtest a case.
With TESTING on, an exception in a view propagates into the test client: that is the would-be 500.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from models import Account
from tests.support.helpers import (
    ANY_4XX,
    NO_LIMITS,
    STRONG_PASSWORD,
    USERNAME,
    account_status,
    answers,
    csrf_token,
    tampered_signature,
)

WRONG_CODE = "ABCDE-23456"  # well formed, never issued
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
# Refused outright with control characters in them: names and usernames never hold one (e-mail: email-validator).
# Passwords may hold anything; in a code, whitespace-like controls are separators (a well-formed wrong code).
STRICT_FIELDS = {"username", "full_name", "email"}
LIVE_CHECKS = {"/activate/check": ("username", "code", "password", "password_confirm"), "/register/check": ("email",)}
CHECK_FIELDS = [(base, name) for base, names in LIVE_CHECKS.items() for name in names]
ALL_POSTS = ["/activate", "/activate/check/username", "/register", "/register/check/email", "/login", "/logout"]


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


@pytest.fixture
def app_config(app_config):
    return {**app_config, **NO_LIMITS, "KAPU_DEV_MAILBOX": "1"}  # /dev/mailbox gets the junk too


@pytest.fixture
def token(csrf):
    return csrf()


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
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_value}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="username"; filename="u.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


# --- CSRF

CSRF_CASES = [
    "missing",
    "empty",
    "garbage",
    "truncated",
    "tampered",
    "other-session",
    "huge",
    "nul",
    "wrong-first-of-two",
    "header-garbage",
    "as-a-file",
]


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
        "tampered": ({"csrf_token": tampered_signature(good)}, {}),
        "huge": ({"csrf_token": "A" * 50_000}, {}),
        "nul": ({"csrf_token": good[:10] + "\x00" + good[10:]}, {}),
        "wrong-first-of-two": (MultiDict([("csrf_token", "wrong"), ("csrf_token", good)]), {}),
        "header-garbage": ({}, {"X-CSRFToken": "garbage"}),
        "as-a-file": ({"csrf_token": (io.BytesIO(good.encode()), "token.txt")}, {}),
    }[case]


def test_a_post_without_a_valid_csrf_token_is_400_and_changes_nothing(app, client, registered, token, subtests):
    for path in ALL_POSTS:
        fields = FORMS.get(path) or {"username": USERNAME, "email": "x@example.hu", "code": WRONG_CODE}
        for case in CSRF_CASES:
            extra, headers = _bad_csrf(case, app, token)
            if isinstance(extra, MultiDict):
                data = MultiDict(list(fields.items()) + list(extra.items(multi=True)))
            else:
                data = {**fields, **extra}
            with subtests.test(f"POST {path} csrf={case}"):
                answers(app, client, "POST", path, 400, unchanged="strict", data=data, headers=headers)
        # The token must be a form field or the header; inside a JSON body it does not count.
        with subtests.test(f"POST {path} csrf in JSON"):
            answers(app, client, "POST", path, 400, unchanged="strict", json={**fields, "csrf_token": token})
    assert account_status(app) == "pending"


def test_logout_and_login_without_a_csrf_token_change_no_session(app, client, active, token, subtests):
    with subtests.test("POST /login without token"):
        answers(app, client, "POST", "/login", 400, data=form_with("/login", None))
    assert client.get("/account").status_code == 303, "a login without a CSRF token logged in"
    assert client.post("/login", data=form_with("/login", token)).status_code == 303
    assert client.get("/account").status_code == 200
    with subtests.test("POST /logout without token"):
        answers(app, client, "POST", "/logout", 400)
    with subtests.test("POST /logout garbage token"):
        answers(app, client, "POST", "/logout", 400, data={"csrf_token": "x"})
    assert client.get("/account").status_code == 200, "a logout without a CSRF token ended the session"


# --- missing, empty, blank fields


@pytest.mark.parametrize("path", list(FORMS))
def test_missing_empty_and_blank_fields_are_422(app, client, registered, token, path, subtests):
    for blank, name in [(None, "missing"), ("", "empty"), ("   ", "spaces"), ("\t\r\n", "whitespace")]:
        everything = dict.fromkeys(FORMS[path], blank)
        with subtests.test(f"POST {path} all fields {name}"):
            answers(app, client, "POST", path, 422, unchanged="strict", data=form_with(path, token, **everything))
        for field in FORMS[path]:
            with subtests.test(f"POST {path} {field} {name}"):
                response = answers(
                    app, client, "POST", path, 422, unchanged="strict", data=form_with(path, token, **{field: blank})
                )
                assert f'id="{field}-error"' in response.get_data(as_text=True), f"422 without a #{field}-error"
    assert account_status(app) == "pending"


def test_empty_bodies_are_400(app, client, subtests):
    for path in ALL_POSTS:
        with subtests.test(f"POST {path} no body"):
            answers(app, client, "POST", path, 400, unchanged="strict")
        with subtests.test(f"POST {path} empty urlencoded"):
            answers(app, client, "POST", path, 400, data=b"", content_type=URLENCODED)


# --- huge values

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
def test_overlong_fields_are_422_before_any_work(app, client, registered, token, path, subtests):
    for field in FORMS[path]:
        near = "a" * NEAR_CAP + ("@example.hu" if field == "email" else "")
        for size, value in [("over its cap", FIELD_OVER_LIMIT[field]), ("near the body cap", near)]:
            with subtests.test(f"POST {path} {field} {size}"):
                answers(
                    app,
                    client,
                    "POST",
                    path,
                    422,
                    unchanged="strict",
                    data=form_with(path, token, **with_confirmation(path, {field: value})),
                )


def test_bodies_over_the_cap_are_413(app, client, registered, token, subtests):
    for path in ALL_POSTS:
        bodies = {
            "100 KB username": {"data": {"csrf_token": token, "username": "a" * 100_000}},
            "1 MB urlencoded": {"data": {"csrf_token": token, "username": "a" * 1_000_000}},
            "1 MB file": {
                "data": multipart_file(token, b"a" * 1_000_000),
                "content_type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            "1 MB raw": {"data": b"\x00" * 1_000_000, "content_type": "application/octet-stream"},
            "1 MB json": {"json": {"username": "a" * 1_000_000}, "headers": {"X-CSRFToken": token}},
            # 20 000 characters, 120 000 bytes once percent-encoded: the body is capped, not the text.
            "escaped é x 20000": {"data": {"csrf_token": token, "username": "é" * 20_000}},
        }
        for name, request in bodies.items():
            with subtests.test(f"POST {path} {name}"):
                answers(app, client, "POST", path, 413, unchanged="strict", **request)


@pytest.mark.parametrize("path", list(FORMS))
def test_thousands_of_fields_or_repeats_are_refused_or_ignored_cleanly(app, client, registered, token, path, subtests):
    many_names = [("csrf_token", token)] + [(f"f{i}", "x") for i in range(5000)] + list(FORMS[path].items())
    with subtests.test(f"POST {path} with 5000 extra fields"):
        answers(
            app,
            client,
            "POST",
            path,
            (413, BASELINE_STATUS[path]),
            unchanged=None if path == "/register" else "core",
            data=MultiDict(many_names),
        )
    repeats = [("csrf_token", token)] + [(k, v) for k, v in FORMS[path].items() for _ in range(200)]
    with subtests.test(f"POST {path} every field x200"):
        answers(app, client, "POST", path, (413, BASELINE_STATUS[path]), data=MultiDict(repeats))
    assert account_status(app) == "pending"


# --- control characters


@pytest.mark.parametrize("path", list(FORMS))
def test_control_characters_in_any_field_never_500(app, client, registered, token, path, subtests):
    for field in FORMS[path]:
        if field in STRICT_FIELDS:
            expected = 422
        elif field == "code":
            expected = (400, 422)
        else:  # passwords: refused or not, never a 500 (a wrong code or wrong password is a 4xx too)
            expected = ANY_4XX
        for name, junk in CONTROL_CHARACTERS.items():
            data = form_with(path, token, **with_confirmation(path, {field: insert(FORMS[path][field], junk)}))
            with subtests.test(f"POST {path} {field} with {name}"):
                answers(
                    app, client, "POST", path, expected, unchanged="strict" if expected == 422 else "core", data=data
                )
        with subtests.test(f"POST {path} {field} only NULs"):
            answers(
                app,
                client,
                "POST",
                path,
                ANY_4XX if field in ("password", "password_confirm") else 422,
                unchanged="core",
                data=form_with(path, token, **with_confirmation(path, {field: "\x00" * 20})),
            )
    assert account_status(app) == "pending"


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


def test_unicode_that_changes_under_nfkc_or_casefold_never_500(app, client, registered, token, subtests):
    for path in FORMS:
        for name, username in ODD_UNICODE_USERNAMES.items():
            expected = (200, 422) if path == "/register" else (BASELINE_STATUS[path], 422)
            with subtests.test(f"POST {path} username {name}"):
                answers(app, client, "POST", path, expected, data=form_with(path, token, username=username))
    assert account_status(app) == "pending"


def test_a_full_name_that_grows_under_nfkc_still_fits_its_column(app, client, token):
    """200 characters pass the form's cap, but NFKC turns U+FDFA into 18 characters: 3 600 characters go
    into a varchar(200) column. SQLite stores them; PostgreSQL refuses with a DataError — a 500 there."""
    response = client.post("/register", data=form_with("/register", token, full_name="\ufdfa" * 200))
    assert response.status_code in (200, 422)
    with app.app_context():
        stored = Account.get_or_none(Account.username == "nagy.anna")
        assert stored is None or len(stored.full_name) <= 200, f"stored full_name is {len(stored.full_name)} long"


# --- repeated and extra keys


@pytest.mark.parametrize("path", list(FORMS))
def test_a_repeated_field_counts_once_with_its_first_value(app, client, registered, token, path, subtests):
    for field, good in FORMS[path].items():
        rest = list(form_with(path, token, **{field: None}).items())
        with subtests.test(f"POST {path} {field} twice, empty first"):
            answers(
                app, client, "POST", path, 422, unchanged="strict", data=MultiDict(rest + [(field, ""), (field, good)])
            )
        with subtests.test(f"POST {path} {field} twice, NUL second"):
            answers(
                app,
                client,
                "POST",
                path,
                BASELINE_STATUS[path],
                data=MultiDict(rest + [(field, good), (field, "\x00")]),
            )
    extra = form_with(
        path,
        token,
        status="active",
        is_admin="1",
        account_id="1",
        session_version="99",
        __class__="x",
        meta="x",
        data="x",
        errors="x",
        live_fields="x",
    )
    with subtests.test(f"POST {path} with unknown fields"):
        answers(app, client, "POST", path, BASELINE_STATUS[path], data=extra)
    assert account_status(app) == "pending"


# --- wrong types


@pytest.mark.parametrize("path", list(FORMS))
def test_a_file_upload_instead_of_text_is_a_clear_4xx(app, client, registered, token, path, subtests):
    for field, good in FORMS[path].items():
        for name, upload in [
            ("file", (io.BytesIO(good.encode()), "value.txt", "text/plain")),
            ("empty file", (io.BytesIO(b""), "")),
            ("binary file", (io.BytesIO(b"\x00\xff" * 100), "x.bin", "application/octet-stream")),
        ]:
            with subtests.test(f"POST {path} {field} as {name}"):
                answers(
                    app, client, "POST", path, ANY_4XX, unchanged="core", data=form_with(path, token, **{field: upload})
                )
    # Multipart without a file in it is how some browsers send forms: the same answer as urlencoded.
    with subtests.test(f"POST {path} plain multipart"):
        answers(
            app,
            client,
            "POST",
            path,
            BASELINE_STATUS[path],
            data=form_with(path, token),
            content_type="multipart/form-data",
        )
    assert account_status(app) == "pending"


@pytest.mark.parametrize("path", list(FORMS))
def test_json_with_non_string_values_is_a_clear_4xx(app, client, registered, token, path, subtests):
    """Flask-WTF reads a JSON body as the form data: a number or an object where text belongs must not crash."""
    for field in FORMS[path]:
        for kind, value in JSON_VALUES.items():
            # A list of strings reads as a repeated key (first value wins): a valid first value may pass.
            listed = kind == "list"
            with subtests.test(f"POST {path} JSON {field}={kind}"):
                answers(
                    app,
                    client,
                    "POST",
                    path,
                    [*ANY_4XX, BASELINE_STATUS[path]] if listed else ANY_4XX,
                    unchanged=None if listed else "core",
                    json={**form_with(path, token), field: value},
                    headers={"X-CSRFToken": token},
                )
    for name, body in [
        ("list", b'["a", "b"]'),
        ("pairs", b'[["username", "x"]]'),
        ("string", b'"text"'),
        ("number", b"42"),
        ("null", b"null"),
        ("broken", b"{"),
        ("unclosed", b'{"username": "x"'),
        ("non-utf8", b"\xff\xfe"),
    ]:
        with subtests.test(f"POST {path} JSON body {name}"):
            answers(
                app,
                client,
                "POST",
                path,
                ANY_4XX,
                unchanged="core",
                data=body,
                content_type="application/json",
                headers={"X-CSRFToken": token},
            )
    assert account_status(app) == "pending"


ODD_CONTENT_TYPES = {
    "multipart without boundary": ("multipart/form-data", b"garbage"),
    "garbage multipart": ("multipart/form-data; boundary=xyz", b"garbage"),
    "nameless part": (
        "multipart/form-data; boundary=xyz",
        b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--\r\n",
    ),
    "unterminated multipart": (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="username"\r\n\r\nx',
    ),
    "latin-1 charset": (f"{URLENCODED}; charset=latin-1", b"username=\xe9"),
    "text/plain": ("text/plain", b"csrf_token=x&username=y"),
    "xml": ("application/xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'e'>]><x>&e;</x>"),
}


def test_odd_content_types_are_400(app, client, registered, subtests):
    for path in ALL_POSTS:
        for name, (content_type, body) in ODD_CONTENT_TYPES.items():
            with subtests.test(f"POST {path} {name}"):
                answers(app, client, "POST", path, 400, unchanged="strict", data=body, content_type=content_type)


# --- non-UTF-8 bytes


def test_raw_non_utf8_bytes_make_the_body_unreadable_so_400(app, client, registered, token, subtests):
    """Werkzeug drops a urlencoded body that is not UTF-8 altogether: no CSRF token is left, so 400."""
    for path in FORMS:
        with subtests.test(f"POST {path} b'username=\\xff\\xfe'"):
            answers(
                app, client, "POST", path, 400, unchanged="strict", data=b"username=\xff\xfe", content_type=URLENCODED
            )
        for field in FORMS[path]:
            for name, raw in NON_UTF8.items():
                value = FORMS[path][field].encode()
                pairs = list(form_with(path, token, **{field: None}).items()) + [(field, value[:3] + raw + value[3:])]
                with subtests.test(f"POST {path} {field} with raw {name}"):
                    answers(
                        app,
                        client,
                        "POST",
                        path,
                        400,
                        unchanged="strict",
                        data=raw_body(pairs),
                        content_type=URLENCODED,
                    )


def test_percent_encoded_non_utf8_is_kept_as_text(app, client, registered, token, subtests):
    """Werkzeug keeps an escape that is not UTF-8 as the literal text "%FF": refused in a username and a
    code; a name or an address may hold a per cent sign, so there it can pass."""
    for path in FORMS:
        for field, value in FORMS[path].items():
            for escaped in ("%ff%fe", "%c0%80", "%ed%a0%80", "%80"):
                typed = f"{quote(value[:3])}{escaped}{quote(value[3:])}".encode()
                body = raw_body(form_with(path, token, **with_confirmation(path, {field: None})).items())
                body += b"&" + field.encode() + b"=" + typed
                if path == "/activate" and field == "password":
                    body += b"&password_confirm=" + typed
                expected = 422 if field == "username" else (200, 422) if path == "/register" else ANY_4XX
                with subtests.test(f"POST {path} {field} with {escaped}"):
                    answers(
                        app,
                        client,
                        "POST",
                        path,
                        expected,
                        unchanged="core" if path != "/register" else None,
                        data=body,
                        content_type=URLENCODED,
                    )
    assert account_status(app) == "pending"


# --- live checks

CHECK_VALUES = {
    "empty": "",
    "nul": "\x00",
    "control": "ab\x1b[2Jcd",
    "bidi": "abc\u202edef",
    "long": "a" * NEAR_CAP,
    "emoji": "🙂" * 50,
    "html": "<script>alert(1)</script>",
}


def test_live_checks_answer_any_text_with_a_fragment(app, client, registered, token, subtests):
    for base, field in CHECK_FIELDS:
        url = f"{base}/{field}"
        for name, value in CHECK_VALUES.items():
            with subtests.test(f"POST {url} {name}"):
                response = answers(
                    app, client, "POST", url, 200, unchanged="strict", data={"csrf_token": token, field: value}
                )
                assert "<script>" not in response.get_data(as_text=True), "unescaped <script> in the fragment"
        with subtests.test(f"POST {url} percent-encoded non-UTF-8"):
            answers(
                app,
                client,
                "POST",
                url,
                200,
                data=f"csrf_token={token}&{field}=ab%ff%fecd".encode(),
                content_type=URLENCODED,
            )
        for name, other in [("NUL", "\x00"), ("10 KB", "a" * 10_000), ("control", "\x1b")]:
            data = {"csrf_token": token, field: STRONG_PASSWORD}
            data.update({n: other for n in ("username", "password", "code", "email") if n != field})
            with subtests.test(f"POST {url} with {name} neighbours"):
                answers(app, client, "POST", url, 200, data=data)
        for name, raw in NON_UTF8.items():
            with subtests.test(f"POST {url} raw {name}"):
                answers(
                    app,
                    client,
                    "POST",
                    url,
                    400,
                    data=raw_body([("csrf_token", token), (field, b"ab" + raw)]),
                    content_type=URLENCODED,
                )


def test_live_checks_with_wrong_types_are_a_clear_answer(app, client, registered, token, subtests):
    for base, field in CHECK_FIELDS:
        url = f"{base}/{field}"
        with subtests.test(f"POST {url} {field} as a file"):
            answers(
                app,
                client,
                "POST",
                url,
                (200, 400, 422),
                data={"csrf_token": token, field: (io.BytesIO(b"abc"), "f.txt")},
            )
        if base == "/activate/check" and field != "username":
            # The password rules read the username from the same form: it must be text there too.
            with subtests.test(f"POST {url} with the username as a file"):
                answers(
                    app,
                    client,
                    "POST",
                    url,
                    (200, 400, 422),
                    data={"csrf_token": token, field: "some value 123", "username": (io.BytesIO(b"x"), "u.txt")},
                )
        for kind in ("int", "float", "bool", "list", "object"):
            with subtests.test(f"POST {url} JSON {field}={kind}"):
                answers(
                    app,
                    client,
                    "POST",
                    url,
                    (200, 400, 422),
                    json={field: JSON_VALUES[kind], "username": USERNAME},
                    headers={"X-CSRFToken": token},
                )


UNKNOWN_CHECKS = [
    "nope",
    "csrf_token",
    "__class__",
    "__dict__",
    "validate",
    "meta",
    "data",
    "errors",
    "populate_obj",
    "live_fields",
    "process",
    "Username",
    "username ",
    "%00",
    "username%00",
    "us%C3%A9rname",
    "%ff%fe",
    "%E2%80%AE",
    "a" * 10_000,
    "full_name",
    "..",
    "%2e%2e",
]


def test_unknown_check_field_names_are_404(app, client, token, subtests):
    for base in LIVE_CHECKS:
        for field in UNKNOWN_CHECKS:
            with subtests.test(f"POST {base}/{field[:30]}"):
                answers(
                    app,
                    client,
                    "POST",
                    f"{base}/{field}",
                    404,
                    data={"csrf_token": token, "username": "x", "email": "x"},
                )
    for field in ("username", "code", "password", "password_confirm"):  # not registration's live fields
        with subtests.test(f"POST /register/check/{field}"):
            answers(app, client, "POST", f"/register/check/{field}", 404, data={"csrf_token": token, field: "x"})
    for path in ("/activate/check/", "/register/check/", "/activate/check/a/b"):
        with subtests.test(f"POST {path}"):
            answers(app, client, "POST", path, (404, 405), data={"csrf_token": token})


# --- the mailbox page


def test_the_mailbox_shows_odd_but_valid_registrations_escaped(client, token):
    markup = client.post(
        "/register",
        data=form_with(
            "/register", token, full_name="<script>alert(1)</script>", email="jános@példa.hu", username="Kiss.Ödön"
        ),
    )
    assert markup.status_code == 422 and "<script>alert(1)</script>" not in markup.get_data(as_text=True)
    name = "Ő'Kiss-Nagy \u00a0Ödön"  # an apostrophe, a hyphen and a no-break space (NFKC: a space)
    response = client.post(
        "/register", data=form_with("/register", token, full_name=name, email="jános@példa.hu", username="Kiss.Ödön")
    )
    assert response.status_code == 200
    mailbox = client.get("/dev/mailbox")
    assert mailbox.status_code == 200
    page = mailbox.get_data(as_text=True)
    assert "Ő&#39;Kiss-Nagy" in page and "Ő'Kiss" not in page


# --- property tests


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


@pytest.mark.parametrize("path", list(FORMS))
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


@given(base=st.sampled_from(list(LIVE_CHECKS)), name=ANY_TEXT, value=ANY_TEXT)
def test_property_arbitrary_check_names_and_values_never_500(client, token, base, name, value):
    response = client.post(
        f"{base}/{quote(name, safe='')}", data={"csrf_token": token, name or "x": value, "username": value}
    )
    # An escaped "/" makes more path segments: 404, or a 308 where Werkzeug merges "//".
    assert response.status_code in ({200} if name in LIVE_CHECKS[base] else {404, 308} if "/" in name else {404})
    assert response.mimetype == "text/html"
