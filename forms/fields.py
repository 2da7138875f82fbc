"""Fields and validators shared by Kapu's forms, with the autocomplete hints browsers and phones need."""

from __future__ import annotations

import unicodedata

from flask import current_app, g, has_request_context, session
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, StopValidation, ValidationError

from domain import codes, passwords, registration
from forms.base import nfkc


class LengthCap(Length):
    """Length that ends the field's validation when it fails: WTForms would run the validators after it on an
    over-long value too, and those (domain endings, scripts, e-mail syntax) cost more the longer it is."""

    def __call__(self, form, field):
        try:
            super().__call__(form, field)
        except ValidationError as error:
            raise StopValidation(*error.args) from None


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text)


class NoControlCharacters:
    """Refuses invisible and control characters; a multi-line field still takes its line breaks."""

    def __init__(self, multiline=False):
        self.multiline = multiline

    def __call__(self, form, field):
        text = field.data
        if text and self.multiline:
            text = text.replace("\r", "").replace("\n", "")
        if text and _has_control_characters(text):
            raise ValidationError(_l("Remove the invisible or control characters."))


def unix_newlines(value):
    """A textarea sends CR LF; keep one kind of line break, counted as one character as the browser counts it."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


class WellFormedUsername:
    def __call__(self, form, field):
        if not registration.username_is_well_formed(field.data):
            raise ValidationError(_l("A username is 3 to 64 letters, digits, dots, hyphens or underscores."))


class WellFormedCode:
    def __call__(self, form, field):
        if codes.normalise(field.data) is None:
            raise ValidationError(
                _l(
                    "The code is %(length)d letters and digits, as in the e-mail (for example %(example)s); "
                    "hyphens and spaces are optional.",
                    length=codes.LENGTH,
                    example=codes.EXAMPLE,
                )
            )


class PasswordRules:
    """The password policy, told one broken rule per message; the form says whose username to avoid."""

    def __call__(self, form, field):
        # Read once, not through current_app's proxy at each use: a proxied read costs a live check about 2 µs.
        policy = current_app._get_current_object().extensions["kapu"].policy
        username = form.username_for_rules() if hasattr(form, "username_for_rules") else None
        problems = policy.problems(field.data or "", username, visitor_secret())
        if problems:
            messages = [_password_message(p, policy) for p in problems]
            field.errors.extend(messages[:-1])
            raise ValidationError(messages[-1])


def visitor_secret():
    """The secret only this visitor's requests carry, their session's CSRF secret (the live checks' shortcut,
    which answers outside Flask's request cycle, puts it in g): the policy remembers its verdicts per visitor."""
    secret = g._get_current_object().get("visitor_secret")
    if secret is None and has_request_context():
        secret = session.get(current_app.config["WTF_CSRF_FIELD_NAME"])
    return secret if isinstance(secret, str) else None


def _password_message(problem, policy):
    if problem == passwords.TOO_SHORT:
        return ngettext(
            "The password must be at least %(num)d character long.",
            "The password must be at least %(num)d characters long.",
            policy.min_length,
        )
    if problem == passwords.TOO_LONG:
        return ngettext(
            "The password must be at most %(num)d character long.",
            "The password must be at most %(num)d characters long.",
            policy.max_length,
        )
    if problem == passwords.CONTAINS_USERNAME:
        return _l("Do not build the password from your username.")
    return _l("This password is too common or too easy to guess: try a few unrelated words.")


def username_field(label=None, extra_validators=()):
    return StringField(
        label or _l("Username"),
        filters=[nfkc],
        validators=[
            DataRequired(_l("Enter your username.")),
            LengthCap(max=registration.USERNAME_MAX, message=_l("A username is at most 64 characters.")),
            NoControlCharacters(),
            WellFormedUsername(),
            *extra_validators,
        ],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )


def code_field():
    return StringField(
        _l("One-time code"),
        validators=[DataRequired(_l("Enter the one-time code from the e-mail.")), WellFormedCode()],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "maxlength": codes.MAX_TYPED_LENGTH,
        },
    )


def new_password_field(label=None):
    return PasswordField(
        label or _l("New password"),
        validators=[DataRequired(_l("Choose a new password.")), PasswordRules()],
        render_kw={"autocomplete": "new-password"},
    )


def confirm_field(label=None, other="password"):
    return PasswordField(
        label or _l("New password again"),
        validators=[
            DataRequired(_l("Type the new password again.")),
            Length(max=passwords.MAX_LENGTH, message=_l("The two passwords do not match.")),
            EqualTo(other, message=_l("The two passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
