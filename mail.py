"""Composing mail from templates/mail/<kind>.txt and .html, in the recipient's language."""

from flask import render_template
from flask_babel import force_locale, format_datetime, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from forms.names import is_inert_in_mail

SUBJECTS = {
    "activation_code": _l("Your Kapu activation code"),
    "reset_code": _l("Your new Kapu code (forgotten password)"),
    "username_taken": _l("Your Kapu registration"),
    "email_change_confirm": _l("Confirm your new Kapu identification e-mail address"),
    "email_change_requested": _l("Someone asked to change your Kapu identification e-mail address"),
    "email_changed_notice": _l("Your Kapu identification e-mail address was changed"),
}


def format_deadline(moment) -> str:
    """A deadline as a person reads it: local (Budapest) date and time, e.g. 2026-11-26 14:02."""
    return format_datetime(moment, "yyyy-MM-dd HH:mm")


class MailSafeAccount:
    """The account as mail shows it: a name or username a mail client could turn into a link is left out."""

    def __init__(self, account):
        self._account = account

    def __getattr__(self, name):
        return getattr(self._account, name)

    @property
    def full_name(self):
        name = self._account.full_name
        return name if is_inert_in_mail(name) else pgettext("greeting", "customer")

    @property
    def display_username(self):
        username = self._account.display_username
        return username if is_inert_in_mail(username) else _("the username you registered with")


def compose(kind: str, language: str, **context) -> tuple[str, str, str]:
    with force_locale(language):
        if context.get("account") is not None:
            context["account"] = MailSafeAccount(context["account"])
        if context.get("deadline") is not None:
            context["deadline_text"] = format_deadline(context["deadline"])
        subject = str(SUBJECTS[kind])
        # The subject is the heading of both bodies (and the HTML page's title), so they read alike.
        text = render_template(f"mail/{kind}.txt", subject=subject, **context)
        html = render_template(f"mail/{kind}.html", subject=subject, **context)
    return subject, text, html
