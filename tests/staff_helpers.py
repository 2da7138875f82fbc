"""Staff accounts and logins for desk tests."""

from domain import staff
from tests.conftest import csrf_token

STAFF_PASSWORD = "asztal mögött ül a hivatalnok"


def add_staff(app, username, role, office=None):
    with app.app_context():
        return staff.add_staff(app.extensions["kapu"], username=username, role=role, password=STAFF_PASSWORD,
                               office=office)


def logged_in(app, username):
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "username": username,
                                           "password": STAFF_PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client
