"""Flask's signed-cookie session, with its serializer made once per set of keys.

Flask builds the serializer anew to open and again to save every session: two new URLSafeTimedSerializers per
request, each checking its JSON serializer by dumping an empty dict. The keys only change when a test or an
operator changes the app's configuration, and then the next request builds a serializer for the new keys.
"""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


class KeptSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self):
        self._serializers = {}

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None and app.secret_key:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


def install(app):
    app.session_interface = KeptSerializerSessionInterface()
