"""Forms of the registration desk and of the admin pages."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from domain.notices import SEVERITIES
from forms.base import KapuForm
from forms.fields import NoControlCharacters, unix_newlines
from forms.registration import RegistrationForm

SEVERITY_LABELS = {"info": _l("Information"), "disruption": _l("Disruption"), "outage": _l("Outage")}


class DeskRegistrationForm(RegistrationForm):
    """The online form's fields and rules, with a live availability check on the username."""

    live_fields = ("username", "email")


class ReasonForm(KapuForm):
    reason = StringField(
        _l("Reason"),
        validators=[
            DataRequired(_l("Give a reason.")),
            Length(max=200, message=_l("At most 200 characters.")),
            NoControlCharacters(),
        ],
    )


def _text(label, required=True, max_length=200, area=False):
    validators = [DataRequired(_l("This field is required."))] if required else [Optional()]
    validators += [Length(max=max_length, message=_l("This is too long.")), NoControlCharacters(multiline=area)]
    if area:
        return TextAreaField(label, filters=[unix_newlines], validators=validators)
    return StringField(label, validators=validators)


class NoticeForm(KapuForm):
    service = _text(_l("Affected service"))
    title = _text(_l("Title"))
    body = _text(_l("What happened, what is suspended"), max_length=4000, area=True)
    still_works = _text(_l("What still works, what to do instead"), required=False, max_length=2000, area=True)
    contact = _text(_l("Whom to ask"), required=False)
    severity = SelectField(
        _l("Severity"),
        choices=[SelectChoice(value, SEVERITY_LABELS[value]) for value in SEVERITIES],
        default="disruption",
    )
    detected_at = DateTimeLocalField(
        _l("Fault detected (local time)"), validators=[Optional()], format="%Y-%m-%dT%H:%M"
    )
    # Each language by its own name, as a reader of that language looks for it.
    language = SelectField(
        _l("Language of the notice"), choices=[SelectChoice("hu", "magyar"), SelectChoice("en", "English")]
    )


def _multiline(label, max_length):
    # Markdown keeps line breaks: only the truly invisible controls are refused (in the domain's sanitiser).
    return TextAreaField(
        label,
        filters=[unix_newlines],
        validators=[
            DataRequired(_l("This field is required.")),
            Length(max=max_length, message=_l("This is too long.")),
        ],
    )


ARTICLE_BODY_MAX = 50_000


class ArticleForm(KapuForm):
    title_hu = _text(_l("Title (Hungarian)"))
    title_en = _text(_l("Title (English)"))
    body_hu = _multiline(_l("Text (Hungarian, Markdown)"), ARTICLE_BODY_MAX)
    body_en = _multiline(_l("Text (English, Markdown)"), ARTICLE_BODY_MAX)
    source = _text(_l("Source (Hungarian)"))
    source_en = _text(_l("Source (English)"), required=False)

    # Every text the form accepts must also fit the request, or a long article would be lost to a 413:
    # a character is at most 4 UTF-8 bytes, each %XX-encoded (12 bytes); the rest fits the usual 64 KiB.
    MAX_REQUEST_BYTES = 2 * ARTICLE_BODY_MAX * 12 + 64 * 1024


class AuditFilterForm(KapuForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    username = StringField(_l("Account (username)"), validators=[Optional(), Length(max=64), NoControlCharacters()])
    kind = StringField(_l("Event kind"), validators=[Optional(), Length(max=32)])
    date_from = DateField(_l("From date"), validators=[Optional()])
    date_to = DateField(_l("To date"), validators=[Optional()])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100_000)], default=1)
