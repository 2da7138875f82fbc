"""What every request pays for, done once: the session's serializer, the visitor's Locale, and a request id that
needs no system call. Each must still follow what it stands for (the keys, the language, the process)."""

import os
import random

from babel import Locale
from itsdangerous import BadSignature, URLSafeTimedSerializer

import app as app_module
import logs

OLD_KEY = "the-old-secret-key-0123456789"
NEW_KEY = "the-new-secret-key-9876543210"


def session_signer(key):
    """Flask's own session serializer for *key* (its salt and signer settings)."""
    return URLSafeTimedSerializer(
        key, salt="cookie-session", signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"}
    )


def test_the_session_serializer_is_made_once_and_again_when_the_keys_change(make_app):
    app = make_app(KAPU_SECRET_KEY=OLD_KEY)
    interface = app.session_interface
    assert interface.get_signing_serializer(app) is interface.get_signing_serializer(app)
    client = app.test_client()
    client.get("/?lang=hu")
    old_cookie = client.get_cookie("session").value
    assert session_signer(OLD_KEY).loads(old_cookie)["language"] == "hu"

    # The keys change in the running app (as a test or a reloaded configuration may do it).
    app.secret_key = NEW_KEY
    app.config["SECRET_KEY_FALLBACKS"] = [OLD_KEY]
    other = app.test_client()
    other.set_cookie("session", old_cookie)
    assert '<html lang="hu"' in other.get("/").get_data(as_text=True)  # read under the fallback
    other.get("/?lang=en")
    new_cookie = other.get_cookie("session").value
    assert session_signer(NEW_KEY).loads(new_cookie)["language"] == "en"  # signed with the current key
    try:
        session_signer(OLD_KEY).loads(new_cookie)
    except BadSignature:
        pass
    else:
        raise AssertionError("a new cookie was signed with the old key")


def test_the_visitors_language_is_a_locale_parsed_once(make_app):
    app = make_app(KAPU_LANGUAGE="hu")
    with app.test_request_context("/"):
        chosen = app_module._select_locale()
        assert chosen == Locale.parse("hu") and chosen is app_module._select_locale()
    with app.test_request_context("/"):
        from flask import session

        session["language"] = "en"
        assert app_module._select_locale() is app_module._select_locale() == Locale.parse("en")
        session["language"] = ["not", "a", "language"]
        assert app_module._select_locale() == Locale.parse("hu")  # the configured default
    with app.app_context():
        assert app_module._select_locale() is None  # outside a request: Flask-Babel's default


def test_request_ids_are_new_in_each_forked_worker():
    """gunicorn forks its workers from one master: each must draw its own ids, not the master's sequence."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id goes to the parent
        os.write(writer, logs.new_request_id().encode())
        os._exit(0)
    os.close(writer)
    ours = logs.new_request_id()
    os.waitpid(pid, 0)
    theirs = os.read(reader, 64).decode()
    os.close(reader)
    assert len(ours) == len(theirs) == 16 and int(ours, 16) >= 0 and int(theirs, 16) >= 0
    assert ours != theirs


def test_request_ids_do_not_follow_the_random_modules_seed():
    random.seed(12)
    first = logs.new_request_id()
    random.seed(12)
    assert logs.new_request_id() != first
