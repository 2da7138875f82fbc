from flask_babel import lazy_gettext as _l
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, ValidationError

from domain.registration import EMAIL_MAX
from forms.base import KapuForm, nfkc
from forms.fields import LengthCap, NoControlCharacters, username_field
from forms.names import NotAWebAddress, OneScript, PersonName


class DeliverableSyntax:
    """E-mail syntax through email-validator, with no DNS look-up on the request path."""

    def __call__(self, form, field):
        # Imported at the first address checked, not at every start: email-validator compiles large patterns.
        from email_validator import EmailNotValidError, validate_email

        try:
            field.data = validate_email(field.data or "", check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_l("Enter an e-mail address like name@example.hu.")) from None


def email_field(label=None):
    return EmailField(
        label or _l("Identification e-mail address"),
        validators=[
            DataRequired(_l("Enter your e-mail address.")),
            LengthCap(max=EMAIL_MAX, message=_l("An e-mail address is at most 254 characters.")),
            DeliverableSyntax(),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def new_username_field(label):
    """A username being chosen: well formed, and nothing that could pass for an address or another user."""
    return username_field(label, extra_validators=(NotAWebAddress(), OneScript()))


class RegistrationForm(KapuForm):
    username = new_username_field(_l("Choose a username"))
    full_name = StringField(
        _l("Full name"),
        filters=[nfkc],
        validators=[
            DataRequired(_l("Enter your full name.")),
            NoControlCharacters(),
            PersonName(),
        ],
        render_kw={"autocomplete": "name"},
    )
    email = email_field()

    live_fields = ("email",)
