"""Registration data: the e-mail change (confirmed by link, old address told) and the password change."""

import re

import pytest

from domain import outbox
from models import Account
from tests.support.helpers import NEW_PASSWORD, STRONG_PASSWORD, csrf_token


def account_email(app):
    with app.app_context():
        return Account.get(Account.username == "kovacs.janos").email


def request_change(client, email="new@example.hu", password=STRONG_PASSWORD):
    return client.post("/account/email", data={"csrf_token": csrf_token(client), "email": email, "password": password})


def confirm_link(mailbox, recipient="new@example.hu"):
    return re.search(r"http://kapu\.test(/account/email/confirm/\S+)", mailbox.last_text(recipient)).group(1)


def test_registration_data_needs_login_and_masks_the_address(client, auth, active):
    assert client.get("/account").status_code == 303
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert "kovacs.janos" in page and "Kovács János" in page
    assert "j***@example.hu" in page and "janos@example.hu" not in page


def test_email_change_takes_effect_only_after_confirmation(app, client, logged_in, mailbox):
    response = request_change(client)
    assert response.status_code == 303
    assert "new@example.hu" in client.get("/account").get_data(as_text=True)
    assert "new@example.hu" not in client.get("/account").get_data(as_text=True)  # said once
    assert account_email(app) == "janos@example.hu"
    link = confirm_link(mailbox)
    other = app.test_client()  # the link may be opened anywhere, e.g. on a phone
    for _ in range(2):
        page = other.get(link)
        assert page.status_code == 200 and 'type="submit"' in page.get_data(as_text=True)
    assert account_email(app) == "janos@example.hu"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    confirmed = other.post(link, data={"csrf_token": token})
    assert confirmed.status_code == 303
    assert account_email(app) == "new@example.hu"
    message, text = mailbox.messages("janos@example.hu")[-1]
    assert message.kind == "email_changed_notice" and "n***@e***.hu" in text
    assert other.post(link, data={"csrf_token": token}).status_code == 409


def test_an_unconfirmed_change_changes_nothing_and_a_newer_request_kills_the_older_link(
    app, client, logged_in, mailbox
):
    request_change(client, "first@example.hu")
    first_link = confirm_link(mailbox, "first@example.hu")
    request_change(client, "second@example.hu")
    assert client.get(first_link).status_code == 409
    assert account_email(app) == "janos@example.hu"
    kinds = [m.kind for m, _ in mailbox.messages("janos@example.hu")]
    assert kinds == ["activation_code", "email_change_requested", "email_change_requested"]


def test_email_change_needs_the_current_password(app, client, logged_in, mailbox):
    response = request_change(client, password="wrong password here")
    assert response.status_code == 422 and "current password is wrong" in response.get_data(as_text=True)
    assert mailbox.messages("new@example.hu") == []


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 600])
def test_broken_confirmation_links_are_refused(client, token):
    assert client.get(f"/account/email/confirm/{token}").status_code == 400


def test_password_change_ends_every_other_session(app, client, logged_in, auth):
    phone = app.test_client()
    auth.login(client=phone)
    assert phone.get("/account").status_code == 200
    response = auth.change_password()
    assert response.status_code == 303 and "has been changed" in client.get("/account").get_data(as_text=True)
    assert client.get("/account").status_code == 200
    assert phone.get("/account").status_code == 303
    assert auth.login(password=NEW_PASSWORD, client=app.test_client()).status_code == 303
    assert auth.login(client=app.test_client()).status_code == 401


def test_password_change_applies_the_same_rules(client, logged_in, auth):
    response = auth.change_password("kovacs.janos!!")
    assert response.status_code == 422 and "from your username" in response.get_data(as_text=True)
    check = client.post(
        "/account/check/password",
        data={"change-password": "short"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert "at least 15 characters" in check.get_data(as_text=True)


def test_the_identification_address_only_gets_identification_mail(app, services, active):
    with app.app_context(), pytest.raises(outbox.MailNotAllowed):
        outbox.enqueue(services, "newsletter", "janos@example.hu", "News", "text", "")
    with app.app_context():
        assert outbox.enqueue(services, "newsletter", "someone@example.hu", "News", "text", "").kind == "newsletter"


def test_every_id_on_the_registration_data_page_is_unique(client, logged_in):
    ids = re.findall(r'\sid="([^"]+)"', client.get("/account").get_data(as_text=True))
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "change-password-error" in ids and "password-error" in ids


# --- the old address is told at request time; a pending change dies with any recovery -------------------


def cancel_link(mailbox, recipient="janos@example.hu"):
    return re.search(r"http://kapu\.test(/account/email/cancel/\S+)", mailbox.last_text(recipient)).group(1)


def form_token(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(
    "language, words",
    [
        ("hu", ["Tisztelt Kovács János!", "n***@e***.hu", "Elfelejtett jelszó", "Vonja vissza"]),
        ("en", ["Dear Kovács János", "n***@e***.hu", "Forgotten password"]),
    ],
)
def test_the_old_address_is_told_when_a_change_is_requested(app, client, logged_in, mailbox, language, words):
    with app.app_context():
        Account.update(language=language).where(Account.id == logged_in.id).execute()
    request_change(client)
    message, text = mailbox.messages("janos@example.hu")[-1]
    assert message.kind == "email_change_requested"
    assert all(word in text for word in words), text
    assert "new@example.hu" not in text  # masked: the attacker's address is not spelled out to anyone
    html = outbox.unseal(app.extensions["kapu"], message)["html"]
    assert f'<a href="http://kapu.test{cancel_link(mailbox)}">' in html


def test_the_owner_cancels_a_pending_change_from_the_old_address(app, client, logged_in, mailbox):
    request_change(client)
    confirm, cancel = confirm_link(mailbox), cancel_link(mailbox)
    owner = app.test_client()
    for _ in range(2):  # mail scanners open links: a GET changes nothing
        page = owner.get(cancel)
        assert page.status_code == 200 and "n***@example.hu" in page.get_data(as_text=True)
        assert owner.head(cancel).status_code == 200
    assert app.test_client().get(confirm).status_code == 200
    done = owner.post(cancel, data={"csrf_token": form_token(page)})
    assert done.status_code == 200 and "was cancelled" in done.get_data(as_text=True)
    assert app.test_client().get(confirm).status_code == 409
    taker = app.test_client()
    assert taker.post(confirm, data={"csrf_token": csrf_token(taker)}).status_code == 409
    assert account_email(app) == "janos@example.hu"
    assert owner.post(cancel, data={"csrf_token": form_token(page)}).status_code == 409
    assert owner.post(cancel).status_code == 400  # no CSRF token: refused, nothing changes


@pytest.mark.parametrize("token", ["garbage", "x" * 600])
def test_broken_cancel_links_are_refused(client, token):
    assert client.get(f"/account/email/cancel/{token}").status_code == 400


def test_a_confirmation_link_is_not_a_cancel_link(app, client, logged_in, mailbox):
    request_change(client)
    token = confirm_link(mailbox).rsplit("/", 1)[1]
    assert client.get(f"/account/email/cancel/{token}").status_code == 400


def test_attacker_change_dies_when_the_owner_resets_the_password(app, active, mailbox, auth):
    """The issue's attack end to end: request, owner's reset, then the attacker's old link is dead."""
    attacker = app.test_client()
    assert auth.login(client=attacker).status_code == 303
    request_change(attacker, "attacker@example.org")
    stolen_link = confirm_link(mailbox, "attacker@example.org")
    owner = app.test_client()
    sent = owner.post(
        "/forgotten-password",
        data={
            "csrf_token": csrf_token(owner, "/forgotten-password"),
            "username": "kovacs.janos",
            "email": "janos@example.hu",
        },
    )
    assert sent.status_code == 200
    reset = auth.activate(mailbox.last_code("janos@example.hu"), password=NEW_PASSWORD, client=owner)
    assert reset.status_code == 200
    assert attacker.get("/account").status_code == 303  # the attacker's session ended
    page = attacker.get(stolen_link)
    assert page.status_code == 409
    assert attacker.post(stolen_link, data={"csrf_token": csrf_token(attacker)}).status_code == 409
    assert account_email(app) == "janos@example.hu"
    again = app.test_client()
    again.post(
        "/forgotten-password",
        data={
            "csrf_token": csrf_token(again, "/forgotten-password"),
            "username": "kovacs.janos",
            "email": "janos@example.hu",
        },
    )
    assert mailbox.messages()[-1][0].recipient == "janos@example.hu"
    assert [m.kind for m, _ in mailbox.messages("attacker@example.org")] == ["email_change_confirm"]


def change_password_via_page(auth):
    return auth.change_password()


def reissue_at_the_desk(auth):
    app = auth.app
    desk = auth.staff_login("admin.anna", "admin")
    token = form_token(desk.get("/desk"))  # an admin's desk: the logout form carries the token
    with app.app_context():
        account_id = Account.get(Account.username == "kovacs.janos").id
    response = desk.post(
        f"/desk/registrations/{account_id}/reissue",
        data={"csrf_token": token, "reason": "lost the code, identity checked"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("recovery", [change_password_via_page, reissue_at_the_desk])
def test_a_pending_change_dies_with_a_password_change_or_a_desk_reissue(app, client, logged_in, auth, recovery):
    request_change(client, "attacker@example.org")
    link = confirm_link(auth.mailbox, "attacker@example.org")
    recovery(auth)
    other = app.test_client()
    assert other.get(link).status_code == 409
    assert account_email(app) == "janos@example.hu"


# --- e-mail change is capped like every other mail -----------------------------------------------------------


def test_email_changes_are_capped_per_account(app, client, logged_in, mailbox):
    for n in range(3):
        assert request_change(client, f"new{n}@example.hu").status_code == 303
    refused = client.post(
        "/account/email?lang=hu",
        data={"csrf_token": csrf_token(client), "email": "new9@example.hu", "password": STRONG_PASSWORD},
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Túl sok próbálkozás" in refused.get_data(as_text=True)
    assert mailbox.messages("new9@example.hu") == []
    with app.app_context():
        from models import AuditEvent

        refusals = AuditEvent.select().where(AuditEvent.kind == "email_change", AuditEvent.outcome == "rate_limited")
        assert [e.account_id for e in refusals] == [logged_in.id]


def test_email_changes_are_capped_per_client(app, services, client, active, mailbox, auth):
    import dataclasses

    from domain.limits import Limit

    services.limits = dataclasses.replace(services.limits, client_mails=Limit("client-mail", 2, 3600))
    with app.app_context():
        Account.create(
            username="szabo.eva",
            display_username="szabo.eva",
            full_name="Szabó Éva",
            email="eva@example.hu",
            status="active",
            created_at=active.created_at,
            password_hash=services.hasher.hash(STRONG_PASSWORD),
        )
    auth.login()
    assert request_change(client, "one@example.hu").status_code == 303
    assert request_change(client, "two@example.hu").status_code == 303
    same_client = app.test_client()
    assert auth.login("szabo.eva", client=same_client).status_code == 303
    assert request_change(same_client, "eva.new@example.hu").status_code == 429
    moved = same_client.post(
        "/account/email",
        data={
            "csrf_token": csrf_token(same_client, "/account"),
            "email": "eva.new@example.hu",
            "password": STRONG_PASSWORD,
        },
        environ_base={"REMOTE_ADDR": "192.0.2.50"},
    )
    assert moved.status_code == 303
    assert len(mailbox.messages("eva.new@example.hu")) == 1


def test_the_per_client_cap_counts_an_ipv6_client_by_its_64(app, services, client, logged_in, mailbox):
    """One host owns its whole /64: moving to another address in it does not buy more mail."""
    import dataclasses

    from domain.limits import Limit

    services.limits = dataclasses.replace(services.limits, client_mails=Limit("client-mail", 2, 3600))

    def request_from(address, email):
        return client.post(
            "/account/email",
            data={"csrf_token": csrf_token(client), "email": email, "password": STRONG_PASSWORD},
            environ_base={"REMOTE_ADDR": address},
        )

    assert request_from("2001:db8:1:2::10", "one@example.hu").status_code == 303
    assert request_from("2001:db8:1:2::11", "two@example.hu").status_code == 303
    assert request_from("2001:db8:1:2:ffff::1", "three@example.hu").status_code == 429
    assert mailbox.messages("three@example.hu") == []
    assert request_from("2001:db8:1:3::10", "three@example.hu").status_code == 303  # another subscriber's /64


def test_mail_to_the_old_address_never_spells_out_the_domain_someone_typed(app, client, logged_in, mailbox):
    """The requester chose the new address: its domain would be a link in the owner's mail client."""
    request_change(client, "ugyfel@kapu-gov-hu.example")
    link = confirm_link(mailbox, "ugyfel@kapu-gov-hu.example")
    other = app.test_client()
    other.post(link, data={"csrf_token": form_token(other.get(link))})
    assert account_email(app) == "ugyfel@kapu-gov-hu.example"
    told = mailbox.messages("janos@example.hu")[-2:]
    assert [message.kind for message, _ in told] == ["email_change_requested", "email_changed_notice"]
    for message, text in told:
        html = outbox.unseal(app.extensions["kapu"], message)["html"]
        assert "u***@k***.example" in text and "u***@k***.example" in html
        assert "kapu-gov-hu" not in text and "kapu-gov-hu" not in html
