"""The e-mail link, answered before Flask's request cycle: a mass mailing's first request from every citizen.

The common case (a live link, a visitor who is not logged in, no query string) is done here as
views.activation.open_link does it: the link read, the opening audited, the link put in the visitor's session and
a 303 to the form. Anything else goes on to Flask before anything is written: a link that is not live (its page
and its 4xx), a logged-in visitor, a session cookie that does not verify, a query string, a HEAD.
tests/test_opened_links.py holds both paths to the same answers.
"""

from __future__ import annotations

from werkzeug.utils import redirect

from domain import issuing
from shortcuts import Answer, Shortcut
from views.activation import LINK_IN_SESSION

PREFIX = "/activate/"
FORM = "/activate"  # where the link sends the visitor (url_for("activation.show_form") without a script root)


class OpenedLinks(Shortcut):
    ROUTE = "/activate/<token>"

    def __init__(self, wsgi_app, app, security_headers):
        super().__init__(wsgi_app, app, security_headers)
        self.body = redirect(FORM, 303).get_data()  # werkzeug's page for a browser that does not follow

    def takes(self, environ):
        return environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").startswith(PREFIX)

    def answer(self, environ):
        token = environ["PATH_INFO"][len(PREFIX) :]
        if not token or "/" in token or environ.get("QUERY_STRING") or environ.get("SCRIPT_NAME"):
            return None
        if not self.plain_set_up():
            return None
        cookie = self.session_cookie(environ)
        session = self.visitor_session(cookie) if cookie else {}
        if session is None:
            return None
        with self.app.app_context():
            database = self.app.extensions["kapu_database"]
            database.connect(reuse_if_open=True)  # what app._connect does; the app context's end closes it
            services = self.app.extensions["kapu"]
            state = issuing.inspect_link(services, token)
            if state.status != "valid":
                return None  # Flask shows why, and audits it
            issuing.record_opening(state, client=environ.get("REMOTE_ADDR") or "unknown")
        headers = (("Location", FORM), self.set_session_cookie({**session, LINK_IN_SESSION: token}))
        secure = environ.get("wsgi.url_scheme") == "https" or self.app.config["SESSION_COOKIE_SECURE"]
        return Answer(303, self.body, secure, headers)
