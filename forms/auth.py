from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from domain.passwords import MAX_LENGTH
from forms.base import KapuForm
from forms.fields import username_field


class LoginForm(KapuForm):
    username = username_field()
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Enter your password.")),
            Length(max=MAX_LENGTH, message=_l("The username or the password is wrong.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )
