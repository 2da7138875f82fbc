"""The htmx live checks answer with the same validators the submit uses, per field."""

import pytest


@pytest.fixture
def check(client, csrf):
    token = csrf()

    def post(field, **data):
        response = client.post(
            f"/activate/check/{field}", data=data, headers={"X-CSRFToken": token, "HX-Request": "true"}
        )
        return response.status_code, response.get_data(as_text=True).strip()

    return post


@pytest.mark.parametrize(
    "field, data, message",
    [
        ("password", {"password": "short"}, "at least 15 characters"),
        ("password", {"password": "password1234"}, "too common"),
        ("password", {"username": "kovacs.janos", "password": "kovacs.janos.2000"}, "from your username"),
        (
            "password_confirm",
            {"password": "a long good phrase", "password_confirm": "a long good phrasx"},
            "do not match",
        ),
        ("code", {"code": "ABC"}, "12 letters and digits"),
        ("username", {"username": "a b"}, "3 to 64 letters"),
    ],
)
def test_a_broken_rule_is_told(check, field, data, message):
    status, html = check(field, **data)
    assert status == 200 and message in html


@pytest.mark.parametrize(
    "field, data",
    [
        ("password", {"password": "zöld fenyő alatt hűs patak"}),
        ("password_confirm", {"password": "a long good phrase", "password_confirm": "a long good phrase"}),
        ("password_confirm", {"password": "a long good phrase", "password_confirm": ""}),
        ("password", {"password": ""}),
        ("code", {"code": "abcde 23456"}),
        ("code", {"code": "7km4 xh9p 3rtc"}),
    ],
)
def test_a_fixed_or_untouched_field_has_no_message(check, field, data):
    assert check(field, **data) == (200, "")


def test_the_code_is_checked_for_format_only_never_against_the_database(check, app):
    from models import AuditEvent

    check("code", code="ABCDE-23456")
    with app.app_context():
        assert AuditEvent.select().count() == 0


def test_unknown_fields_and_missing_csrf_header_are_refused(client, check):
    assert check("csrf_token")[0] == 404
    assert client.post("/activate/check/password", data={"password": "x"}).status_code == 400
