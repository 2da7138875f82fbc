from forms.base import KapuForm
from forms.fields import code_field, confirm_field, new_password_field, username_field


class ActivationForm(KapuForm):
    """The seed's four lines, in its order: username, one-time code, new password, confirmation."""

    username = username_field()
    code = code_field()
    password = new_password_field()
    password_confirm = confirm_field()

    live_fields = ("username", "code", "password", "password_confirm")
    live_reads = {"password": ("username",), "password_confirm": ("password",)}

    def username_for_rules(self):
        return self.username.data
