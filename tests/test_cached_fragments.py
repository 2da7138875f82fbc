"""The activation page and its form's fields are drawn once per language and reused: never with what someone
typed, a code from a link, an error or a logged-in visitor's menu; each visitor still gets their own working CSRF
token, and a notice shows at once."""

import re


def field_values(html):
    return dict(re.findall(r'<input[^>]* name="(username|code)"[^>]* value="([^"]*)"', html))


def test_what_one_visitor_typed_never_shows_in_anothers_form(app, client, csrf):
    client.get("/activate")  # the empty fields are now drawn and kept
    refused = client.post(
        "/activate",
        data={
            "csrf_token": csrf(),
            "username": "kovacs.janos",
            "code": "ABCDE-23456",
            "password": "short",
            "password_confirm": "short",
        },
    )
    assert refused.status_code == 422
    assert field_values(refused.get_data(as_text=True)) == {"username": "kovacs.janos", "code": "ABCDE-23456"}
    other = app.test_client().get("/activate").get_data(as_text=True)
    assert field_values(other) == {"username": "", "code": ""}
    assert "kovacs.janos" not in other and 'aria-invalid="true"' not in other and "error-summary" not in other


def test_a_code_from_a_link_stays_with_its_visitor(app, client, registered, mailbox):
    client.get("/activate")
    linked = client.get(mailbox.last_link(), follow_redirects=True).get_data(as_text=True)
    assert field_values(linked)["code"] == mailbox.last_code()
    assert field_values(app.test_client().get("/activate").get_data(as_text=True))["code"] == ""


def test_each_language_gets_its_own_fields_and_each_visitor_their_own_token(app):
    first, second = app.test_client(), app.test_client()
    hungarian = [c.get("/activate?lang=hu").get_data(as_text=True) for c in (first, second)]
    english = first.get("/activate?lang=en").get_data(as_text=True)
    assert '<label for="password">Új jelszó</label>' in hungarian[1]
    assert '<label for="password">New password</label>' in english and "Új jelszó" not in english
    tokens = [re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', h).group(1) for h in hungarian]
    assert tokens[0] != tokens[1]


def test_the_kept_page_header_is_only_for_visitors_who_are_not_logged_in(app, auth):
    visitor = app.test_client()
    assert "Log out" not in visitor.get("/help?lang=en").get_data(as_text=True)
    assert "Log out" not in visitor.get("/help").get_data(as_text=True)  # drawn and kept for /help in English
    staff = auth.staff_login("ugyintezo.anna", "admin")
    staff.get("/help?lang=en")
    page = staff.get("/help").get_data(as_text=True)
    assert "Log out" in page and 'href="/desk"' in page
    again = visitor.get("/help").get_data(as_text=True)
    assert "Log out" not in again and 'href="/desk"' not in again and 'href="/login"' in again


def token_of(html):
    found = re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
    return {a or b for a, b in found}


def test_the_kept_activation_page_carries_each_visitors_own_working_token(app):
    first, second = app.test_client(), app.test_client()
    pages = [c.get("/activate").get_data(as_text=True) for c in (first, second)]
    tokens = [token_of(page) for page in pages]
    assert len(tokens[0]) == 1 and len(tokens[1]) == 1 and tokens[0] != tokens[1]
    assert tokens[0].pop() not in pages[1]
    for client, page in zip((first, second), pages, strict=True):
        sent = client.post("/activate", data={"csrf_token": token_of(page).pop(), "username": "x"})
        assert sent.status_code == 422  # the form was read (not refused as a forged request)
    stolen = second.post("/activate", data={"csrf_token": token_of(pages[0]).pop(), "username": "x"})
    assert stolen.status_code == 400


def test_the_kept_activation_page_shows_a_notice_at_once_and_drops_it_when_ended(app):
    from domain import notices

    visitor = app.test_client()
    assert "Áramszünet" not in visitor.get("/activate").get_data(as_text=True)
    with app.app_context():
        notice = notices.add(title="Áramszünet", body="Hétfőn reggelig.")
    assert "Áramszünet" in app.test_client().get("/activate").get_data(as_text=True)
    with app.app_context():
        notices.end(notice.id)
    assert "Áramszünet" not in app.test_client().get("/activate").get_data(as_text=True)


def test_a_logged_in_visitor_gets_their_own_activation_page(app, auth):
    app.test_client().get("/activate")
    page = auth.staff_login("ugyintezo.bela", "admin").get("/activate").get_data(as_text=True)
    assert "Log out" in page and 'href="/desk"' in page
