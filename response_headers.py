"""gunicorn's checks of a response's headers, made once per distinct header in a worker rather than at every answer.

gunicorn checks each header an app sends, at every response: its name a token, its value free of control characters,
hop-by-hop headers dropped, Content-Length read. Kapu sends the same security headers on every answer: the ten
headers of a live check cost its worker about 80k instructions of 1.15M (callgrind), 7%. A header that passed those
checks unchanged passes them again, so gunicorn's own check runs the first time a (name, value) pair is met and,
when it kept the pair as it was with nothing else to note, the pair is remembered and later kept at once.
`serve`'s workers (turn_worker) answer with this Response.
"""

from __future__ import annotations

from gunicorn.http import wsgi

# Enough for every constant header of every kind of answer; values that change (a Location, an ETag) take a place
# each until the set is full, after which pairs not yet remembered are checked every time, as gunicorn does.
MOST_REMEMBERED = 512
_NEVER_REMEMBERED = frozenset({"set-cookie"})  # a session cookie: a secret, and new at every visit


class RememberingResponse(wsgi.Response):
    """gunicorn's Response; a header pair its checks have let through unchanged is kept without checking again."""

    remembered: set[tuple[str, str]] = set()  # per worker process, shared by its threads

    def process_headers(self, headers):
        remembered = self.remembered
        for pair in headers:
            if type(pair) is tuple and pair in remembered:
                self.headers.append(pair)
            else:
                self._check(pair)

    def _check(self, pair):
        """gunicorn's checks of one header: it raises for a bad one, drops a hop-by-hop one, notes a length."""
        kept_before, length, upgrade = len(self.headers), self.response_length, self.upgrade
        super().process_headers((pair,))
        if (
            type(pair) is tuple
            and len(self.headers) == kept_before + 1
            and self.headers[-1] == pair
            and (self.response_length, self.upgrade) == (length, upgrade)
            and pair[0].lower() not in _NEVER_REMEMBERED
            and len(self.remembered) < MOST_REMEMBERED
        ):
            self.remembered.add(pair)


def answer_with_remembered_headers():
    """Make gunicorn's `wsgi.create` (which every worker's request goes through) build a RememberingResponse.

    gunicorn offers no setting for it; `create` looks the class up in its module at each call. Called in a worker
    process once it is forked, so gunicorn's master and other programs keep gunicorn's own Response."""
    wsgi.Response = RememberingResponse
