"""Guessing and flooding: each limit refuses the crossing attempt with 429 and lets the owner in later."""

from models import AuditEvent
from tests.support.helpers import STRONG_PASSWORD, csrf_token


def test_login_backs_off_after_five_failures_without_locking_the_owner_out(app, active, frozen_clock, auth):
    for _ in range(5):
        assert auth.login(password="wrong password!").status_code == 401
    crossing = auth.login()
    assert crossing.status_code == 429 and int(crossing.headers["Retry-After"]) > 0
    frozen_clock.advance(seconds=31)
    assert auth.login().status_code == 303
    with app.app_context():
        assert AuditEvent.select().where(AuditEvent.kind == "login", AuditEvent.outcome == "rate_limited").count()


def test_back_off_is_the_same_for_unknown_usernames(auth):
    for _ in range(5):
        assert auth.login("nobody.here", "wrong password!").status_code == 401
    assert auth.login("nobody.here", "wrong password!").status_code == 429


def test_back_off_ends_with_the_window(active, frozen_clock, auth):
    for _ in range(7):
        auth.login(password="wrong password!")
        frozen_clock.advance(minutes=2)
    frozen_clock.advance(minutes=15)
    assert auth.login().status_code == 303


def test_per_client_cap_on_posts(make_app, frozen_clock):
    app = make_app(KAPU_CLIENT_POSTS_PER_MINUTE=3)
    client = app.test_client()
    token = csrf_token(client, "/login")
    data = {"csrf_token": token, "username": "a.b.c", "password": "x"}
    assert [client.post("/login", data=data).status_code for _ in range(4)] == [401, 401, 401, 429]
    other = app.test_client()
    other_token = csrf_token(other, "/login")
    blocked = other.post("/login", data={**data, "csrf_token": other_token}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    elsewhere = other.post("/login", data={**data, "csrf_token": other_token}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert blocked.status_code == 429 and elsewhere.status_code == 401
    frozen_clock.advance(seconds=61)
    assert client.post("/login", data=data).status_code == 401


def test_the_default_per_client_cap_lets_a_busy_office_through(client, active):
    token = csrf_token(client, "/login")
    statuses = {
        client.post("/login", data={"csrf_token": token, "username": f"user{i}", "password": "x"}).status_code
        for i in range(60)
    }
    assert statuses == {401}


def test_wrong_codes_are_capped_per_client_across_usernames(make_app, frozen_clock):
    from domain import registration

    app = make_app(KAPU_CLIENT_WRONG_CODES_PER_HOUR=4)
    with app.test_request_context():
        for name in ("anna.a", "bela.b", "cili.c"):
            registration.register(
                app.extensions["kapu"],
                username=name,
                full_name=name,
                email=f"{name}@example.hu",
                language="hu",
                channel="online",
            )
    client = app.test_client()
    token = csrf_token(client)

    def attempt(username):
        return client.post(
            "/activate",
            data={
                "csrf_token": token,
                "username": username,
                "code": "ABCDE-23456",
                "password": STRONG_PASSWORD,
                "password_confirm": STRONG_PASSWORD,
            },
        )

    statuses = [attempt(name).status_code for name in ("anna.a", "bela.b", "cili.c", "anna.a", "bela.b")]
    assert statuses == [400, 400, 400, 400, 429]
    frozen_clock.advance(hours=1, seconds=1)
    assert attempt("cili.c").status_code == 400


def test_registration_mail_is_capped_per_client(make_app):
    app = make_app(KAPU_CLIENT_MAILS_PER_HOUR=2)
    client = app.test_client()
    token = csrf_token(client, "/register")
    statuses = [
        client.post(
            "/register",
            data={"csrf_token": token, "username": f"user.{i}", "full_name": "X Y", "email": f"u{i}@example.hu"},
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    with app.app_context():
        from models import Account

        assert Account.select().count() == 2


def test_the_429_page_is_in_the_users_language(make_app):
    app = make_app(KAPU_CLIENT_POSTS_PER_MINUTE=1, KAPU_LANGUAGE="hu")
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "username": "abc", "password": "x"})
    refused = client.post("/login", data={"csrf_token": token, "username": "abc", "password": "x"})
    assert refused.status_code == 429 and 'lang="hu"' in refused.get_data(as_text=True)
    assert "Too many attempts" not in refused.get_data(as_text=True)
