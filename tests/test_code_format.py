"""The one-time code as a citizen meets it: mailed in groups, typed back any way, and a code mailed before the
alphabet changed still opens the account while it lives (codes are stored as keyed hashes, so an upgrade must not
tighten what the form takes)."""

import re

from domain import codes
from models import Account, OneTimeCode
from tests.support.helpers import USERNAME

GROUPED = re.compile(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b")


def test_the_mail_shows_the_code_in_groups_of_the_new_alphabet(registered, mailbox):
    text = mailbox.last_text()
    code = GROUPED.search(text).group(0)
    assert set(code.replace("-", "")) <= set(codes.ALPHABET)
    assert code == codes.display(code.replace("-", ""))


def test_a_code_typed_in_lower_case_with_spaces_and_look_alikes_activates(app, registered, mailbox, auth):
    code = mailbox.last_code()
    typed = " ".join(code.replace("-", "")).lower()  # read out one character at a time
    typed = typed.replace("5", "s").replace("2", "z").replace("8", "b").replace("6", "g")
    assert auth.activate(code=typed).status_code == 200
    with app.app_context():
        assert Account.get(Account.username == USERNAME).status == "active"


def test_a_code_mailed_before_the_upgrade_still_activates(app, services, registered, mailbox, auth):
    earlier = "SZB8U-LQ2W5"  # the earlier alphabet had S, Z, B, U, L, Q, W: taken as typed, never mapped
    with app.app_context():  # the row as the earlier release stored it
        salt = codes.new_salt()
        OneTimeCode.update(code_hash=codes.keyed_hash(services.code_key, "SZB8ULQ2W5", salt), code_salt=salt).execute()
    assert auth.activate(code="528VV-LQ2W5").status_code == 400  # a look-alike is not the character typed
    assert auth.activate(code=earlier.lower().replace("-", " ")).status_code == 200
    with app.app_context():
        assert Account.get(Account.username == USERNAME).status == "active"


def test_the_form_names_the_code_s_shape(client):
    html = client.get("/activate").get_data(as_text=True)
    assert f"{codes.LENGTH} characters from the e-mail, such as {codes.EXAMPLE}" in html
