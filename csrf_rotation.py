"""Flask-WTF's CSRF check across a key rotation: a token signed with a KAPU_SECRET_KEY_FALLBACKS key still counts.

Flask-WTF signs and checks its tokens with SECRET_KEY alone, so without this a citizen whose form was drawn just
before the operator rotated the key would be told the form expired (while Flask itself still accepts the session
cookie under the fallback key). The token is still compared with the one kept in this visitor's session.
"""

from __future__ import annotations

from flask import current_app
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadData, URLSafeTimedSerializer

SALT = "wtf-csrf-token"  # Flask-WTF's


class RotatingCSRFProtect(CSRFProtect):
    """CSRFProtect that reads a token signed with an earlier key as if the current key had signed it."""

    def _get_csrf_token(self):
        return under_current_key(super()._get_csrf_token())


def under_current_key(token):
    """*token* itself, or (when only a fallback key verifies it) its value signed with the current key."""
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    if not token or not fallbacks or current_app.config.get("WTF_CSRF_SECRET_KEY"):
        return token
    time_limit = current_app.config.get("WTF_CSRF_TIME_LIMIT")
    if _loads(current_app.secret_key, token, time_limit) is not None:
        return token
    for key in fallbacks:
        value = _loads(key, token, time_limit)
        if value is not None:
            return URLSafeTimedSerializer(current_app.secret_key, salt=SALT).dumps(value)
    return token  # Flask-WTF refuses it as usual


def _loads(key, token, time_limit):
    try:
        return URLSafeTimedSerializer(key, salt=SALT).loads(token, max_age=time_limit)
    except (BadData, UnicodeError, ValueError, TypeError):
        return None
