"""Hungarian first, English on request: pages, validation messages and mail, through the catalogs."""

from domain import registration
from tests.support.helpers import Mailbox, csrf_token


def test_the_interface_is_hungarian_by_default(hu_app):
    html = hu_app.test_client().get("/activate").get_data(as_text=True)
    assert '<html lang="hu">' in html
    assert "Fiókja aktiválása" in html and "Felhasználónév" in html
    assert 'href="/activate?lang=en"' in html


def test_the_language_switch_keeps_english_for_the_session(hu_app):
    client = hu_app.test_client()
    assert '<html lang="en">' in client.get("/activate?lang=en").get_data(as_text=True)
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in" in html
    assert "Fiókja aktiválása" in client.get("/activate?lang=hu").get_data(as_text=True)


def test_the_switch_keeps_the_code_from_the_link(hu_app):
    with hu_app.test_request_context():
        registration.register(
            hu_app.extensions["kapu"],
            username="nagy.eva",
            full_name="Nagy Éva",
            email="eva@example.hu",
            language="hu",
            channel="online",
        )
    mailbox = Mailbox(hu_app)
    client = hu_app.test_client()
    html = client.get(mailbox.last_link(), follow_redirects=True).get_data(as_text=True)
    assert 'href="/activate?lang=en"' in html
    switched = client.get("/activate?lang=en").get_data(as_text=True)
    assert "Activate your account" in switched and f'value="{mailbox.last_code()}"' in switched


def test_validation_messages_follow_the_language(hu_app):
    client = hu_app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/activate/check/password_confirm",
        data={"password": "abc", "password_confirm": "x"},
        headers={"X-CSRFToken": token},
    )
    assert "A két jelszó nem egyezik." in response.get_data(as_text=True)


def test_mail_is_written_in_the_accounts_language(hu_app):
    with hu_app.test_request_context():
        for language, name in (("hu", "magyar.user"), ("en", "english.user")):
            registration.register(
                hu_app.extensions["kapu"],
                username=name,
                full_name="Teszt Elek",
                email=f"{name}@example.hu",
                language=language,
                channel="online",
            )
    mailbox = Mailbox(hu_app)
    (hu_message, hu_text), (en_message, en_text) = mailbox.messages()
    assert hu_message.subject == "Kapu: az Ön aktiválási kódja" and "Tisztelt Teszt Elek!" in hu_text
    assert en_message.subject == "Your Kapu activation code" and "Dear Teszt Elek," in en_text


def test_english_default_from_configuration(make_app):
    app = make_app(KAPU_LANGUAGE="en")
    assert '<html lang="en">' in app.test_client().get("/").get_data(as_text=True)
