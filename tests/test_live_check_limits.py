"""Live checks are limited per client address and cost little, whatever is typed into them."""

import sys
import threading
import time

import pytest

from domain.limits import Limit, ProcessWindow
from models import AuditEvent
from tests.support.helpers import Auth, csrf_token

LOOKALIKES = "4@8({[<3691!|70$5+%2"  # zxcvbn tries every l33t reading of these: the costly case


@pytest.fixture
def small_limit_app(make_app):
    return make_app(KAPU_CLIENT_CHECKS_PER_MINUTE=5)


def checker(app, address="203.0.113.7"):
    client = app.test_client()
    token = csrf_token(client, "/register")

    def check(path, **data):
        return client.post(
            path, data=data, headers={"X-CSRFToken": token, "HX-Request": "true"}, environ_base={"REMOTE_ADDR": address}
        )

    return check


def test_the_checks_of_one_address_are_limited_and_the_field_says_so(small_limit_app, frozen_clock):
    check = checker(small_limit_app)
    answers = [check("/activate/check/password", password="rövid") for _ in range(3)]
    answers += [check("/register/check/email", email="x@example.hu") for _ in range(2)]
    assert [a.status_code for a in answers] == [200] * 5
    refused = check("/register/check/email", email="x@example.hu")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    body = refused.get_data(as_text=True).strip()
    # A fragment for the field's message region, not a whole error page that would break the form.
    assert body.startswith("<p>") and "<html" not in body and "the form is still checked when you send it" in body
    assert check("/activate/check/code", code="ABCDE-23456").status_code == 429
    assert checker(small_limit_app, "198.51.100.9")("/activate/check/code", code="x").status_code == 200
    with small_limit_app.app_context():
        assert AuditEvent.select().where(AuditEvent.outcome == "rate_limited").count() == 2
    frozen_clock.advance(seconds=61)
    assert check("/activate/check/password", password="rövid").status_code == 200


def test_the_limit_message_is_in_the_visitors_language(small_limit_app):
    check = checker(small_limit_app)
    for _ in range(5):
        check("/activate/check/code", code="x")
    refused = check("/activate/check/code?lang=hu", code="x")
    assert refused.status_code == 429 and "elküldéskor" in refused.get_data(as_text=True)


def test_the_default_limit_lets_a_person_type_but_not_a_script_hammer(app):
    check = checker(app)
    statuses = [
        check("/activate/check/password_confirm", password="a", password_confirm="b").status_code for _ in range(130)
    ]
    assert statuses[:120] == [200] * 120 and set(statuses[120:]) == {429}


def test_the_account_checks_are_limited_too(small_limit_app):
    from domain import registration

    with small_limit_app.test_request_context():
        registration.register(
            small_limit_app.extensions["kapu"],
            username="kovacs.janos",
            full_name="Kovács János",
            email="janos@example.hu",
            language="en",
            channel="office",
        )
    auth = Auth.of(small_limit_app)
    auth.activate()
    auth.login()
    client = auth.client
    token = csrf_token(client, "/account")
    statuses = [
        client.post(
            "/account/check/password", data={"change-password": "x"}, headers={"X-CSRFToken": token}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


@pytest.mark.parametrize(
    "password",
    [
        ("kerekes kút mellett áll a nyírfa, és a patak partján fütyül a rigó " * 2)[:72],
        (LOOKALIKES * 4)[:72],
    ],
)
def test_a_long_password_costs_little_to_check(services, password):
    assert len(password) == 72
    started = time.process_time()
    for _ in range(5):
        services.policy.problems(password, "kovacs.janos")
    per_check = (time.process_time() - started) / 5
    assert per_check < 0.03, f"{per_check * 1000:.0f} ms of CPU per check"  # before: 35-50 ms, and seconds


def test_the_live_check_and_the_submit_analyse_the_same_bounded_prefix(app, client, monkeypatch, registered, mailbox):
    seen = []
    import zxcvbn_rs_py  # domain/passwords.py imports it at the first check, from the package

    real = zxcvbn_rs_py.zxcvbn
    monkeypatch.setattr(zxcvbn_rs_py, "zxcvbn", lambda text, *inputs: seen.append(text) or real(text, *inputs))
    long_password = "passwordpassword" + " zöld fenyő alatt hűs patak csobog" * 2
    token = csrf_token(client)
    live = client.post("/activate/check/password", data={"password": long_password}, headers={"X-CSRFToken": token})
    submit = client.post(
        "/activate",
        data={
            "csrf_token": token,
            "username": "kovacs.janos",
            "code": mailbox.last_code(),
            "password": long_password,
            "password_confirm": long_password,
        },
    )
    assert seen == [long_password[:16], long_password[:16]]
    # The same verdict both ways: the weak beginning is told live and refused on submit.
    assert "too common" in live.get_data(as_text=True)
    assert submit.status_code == 422 and "too common" in submit.get_data(as_text=True)


def test_the_process_window_slides_and_says_how_long_to_wait(frozen_clock):
    window, limit = ProcessWindow(), Limit("client-check", 3, 60)
    assert [window.take(limit, "203.0.113.7") for _ in range(3)] == [0, 0, 0]
    frozen_clock.advance(seconds=20)
    assert window.take(limit, "203.0.113.7") == 40  # the first checks leave the window in just under 40 s
    assert window.take(limit, "198.51.100.9") == 0  # another client counts apart
    frozen_clock.advance(seconds=41)
    assert window.take(limit, "203.0.113.7") == 0
    assert window.take(limit, "203.0.113.7") == 0  # the other two are 61 s old: gone too
    assert window.take(limit, "203.0.113.7") == 0
    assert window.take(limit, "203.0.113.7") > 0


def test_the_process_window_forgets_idle_clients_and_keeps_at_most_its_size(frozen_clock):
    window, limit = ProcessWindow(max_subjects=3), Limit("client-check", 5, 60)
    for n in range(5):
        window.take(limit, f"192.0.2.{n}")
    assert len(window) == 3
    frozen_clock.advance(seconds=61)
    window.take(limit, "192.0.2.9")
    assert len(window) == 1


def test_the_process_window_lets_exactly_its_limit_through_from_many_threads():
    window, limit = ProcessWindow(), Limit("client-check", 500, 60)
    allowed = []

    def hammer():
        allowed.append(sum(window.take(limit, "203.0.113.7") == 0 for _ in range(100)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert sum(allowed) == 500
