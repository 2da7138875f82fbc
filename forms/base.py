"""The base of every Kapu form: text fields read only from the urlencoded or multipart text parts."""

import functools
import threading
import unicodedata

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto


class KapuForm(FlaskForm):
    # Per live field, the other fields its validators read (a new password is checked against the username).
    live_reads: dict[str, tuple[str, ...]] = {}

    class Meta:
        def wrap_formdata(self, form, formdata):
            # Flask-WTF would also feed uploaded files and JSON bodies to the fields, where a file or a
            # number would meet validators written for text. Kapu's forms only take text.
            if formdata is _Auto:
                return request.form if form.is_submitted() else None
            return formdata

    def checked(self, name):
        """One field validated on its own, as a live check asks; a field left empty gets no message yet."""
        bound = self[name]
        if bound.data:
            bound.validate(self)
        return bound

    @classmethod
    def for_check(cls, name):
        """This form with only *name* and the fields its validators read: a live check binds nothing else (binding
        a field costs more than most checks). Same fields, validators and methods; the class is made once."""
        return _check_form(cls, name)


class RefilledChecks(threading.local):
    """Per thread, each live check's form bound once and filled anew for every check, ending in the state a form
    made afresh from that check's data has: binding the fields cost a check more than validating them did.

    After binding (with no data) the form's and its fields' attributes are kept; each check puts them back, lists
    copied, so nothing a validator or an earlier check set remains, and then fills the form as its constructor does.
    tests/test_live_checks.py holds every answer, check after check, to Flask's from a new form."""

    def __init__(self, form_class):
        self.form_class = form_class
        self._forms = {}

    def filled(self, name, formdata):
        """The form for checking *name*, holding *formdata*."""
        kept = self._forms.get(name)
        if kept is None:
            form = self.form_class.for_check(name)(formdata=None, meta={"csrf": False})
            kept = self._forms[name] = (form, [_as_bound(part) for part in (form, *form)])
        form, as_bound = kept
        for part, attributes, lists in as_bound:
            state = part.__dict__
            state.clear()
            state.update(attributes)
            for key in lists:
                state[key] = attributes[key].copy()
        form.process(formdata)
        return form


def _as_bound(part):
    """A form's or field's attributes as bound, and which of them are lists (each check gets copies of those)."""
    attributes = dict(vars(part))
    return part, attributes, [key for key, value in attributes.items() if isinstance(value, list)]


@functools.cache
def _check_form(form_class, name):
    keep = {name, *form_class.live_reads.get(name, ())}
    dropped = {other: None for other in dir(form_class) if _is_field(form_class, other) and other not in keep}
    return type(f"{form_class.__name__}Check", (form_class,), dropped)  # WTForms drops a field set to None


def _is_field(form_class, name):
    return not name.startswith("_") and hasattr(getattr(form_class, name, None), "_formfield")


def nfkc(value):
    """Normalise before validating, so a length check sees what will be stored."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value
