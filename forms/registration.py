from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from domain.accounts import EMAIL_MAX, FULL_NAME_MAX
from forms.base import KapuForm, nfkc
from forms.fields import NoControlCharacters, username_field


class DeliverableSyntax:
    """E-mail syntax through email-validator, with no DNS look-up on the request path."""

    def __call__(self, form, field):
        try:
            field.data = validate_email(field.data or "", check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_l("Enter an e-mail address like name@example.hu.")) from None


def email_field(label=None):
    return EmailField(
        label or _l("Identification e-mail address"),
        validators=[
            DataRequired(_l("Enter your e-mail address.")),
            Length(max=EMAIL_MAX, message=_l("An e-mail address is at most 254 characters.")),
            DeliverableSyntax(),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class RegistrationForm(KapuForm):
    username = username_field(_l("Choose a username"))
    full_name = StringField(
        _l("Full name"),
        filters=[nfkc],
        validators=[
            DataRequired(_l("Enter your full name.")),
            Length(max=FULL_NAME_MAX, message=_l("A name is at most 200 characters.")),
            NoControlCharacters(),
        ],
        render_kw={"autocomplete": "name"},
    )
    email = email_field()

    live_fields = ("email",)
