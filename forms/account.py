from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from domain.passwords import MAX_LENGTH
from forms.base import KapuForm
from forms.fields import confirm_field, new_password_field, username_field
from forms.registration import email_field


def current_password_field():
    return PasswordField(
        _l("Current password"),
        validators=[
            DataRequired(_l("Enter your current password.")),
            Length(max=MAX_LENGTH, message=_l("The current password is wrong.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )


class ForgottenPasswordForm(KapuForm):
    username = username_field()
    email = email_field()


class EmailChangeForm(KapuForm):
    email = email_field(_l("New identification e-mail address"))
    password = current_password_field()

    live_fields = ("email",)


class PasswordChangeForm(KapuForm):
    current_password = current_password_field()
    password = new_password_field()
    password_confirm = confirm_field()

    live_fields = ("password", "password_confirm")

    def __init__(self, *args, account_username=None, **kwargs):
        # It shares /account with the e-mail form, whose contract names are `email` and `password`:
        # a prefix keeps every name, id and `<name>-error` id on the page unique.
        kwargs.setdefault("prefix", "change")
        super().__init__(*args, **kwargs)
        self.account_username = account_username

    def username_for_rules(self):
        return self.account_username
