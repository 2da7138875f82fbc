"""The base of every Kapu form: text fields read only from the urlencoded or multipart text parts."""

import unicodedata

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto


class KapuForm(FlaskForm):
    class Meta:
        def wrap_formdata(self, form, formdata):
            # Flask-WTF would also feed uploaded files and JSON bodies to the fields, where a file or a
            # number would meet validators written for text. Kapu's forms only take text.
            if formdata is _Auto:
                return request.form if form.is_submitted() else None
            return formdata


def nfkc(value):
    """Normalise before validating, so a length check sees what will be stored."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value
