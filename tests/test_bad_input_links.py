"""Activation links (/activate/<token>): tampered, truncated, garbage and forged tokens — forged with the app's
own link signer: the right key and purpose with a payload of the wrong shape, another purpose, no timestamp,
another key — all get a 400 and change nothing; the genuine link still works after them all.

Each test sends a whole table of tokens to one app (a fresh app costs most of a second), one subtest a token.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

from domain.links import LinkSigner
from models import OneTimeCode
from tests.support.helpers import NO_LIMITS, account_status, answers

WRONG_CODE = "ABCDE-23456"  # well formed, never issued


@pytest.fixture
def app_config(app_config):
    return {**app_config, **NO_LIMITS}


def signer_for(app, purpose, key=None):
    """The app's own link signer for *purpose* (with its secret key, or *key*)."""
    return LinkSigner(key or app.config["SECRET_KEY"], purpose, app.config["KAPU_CODE_TTL"])


@pytest.fixture
def token(csrf):
    return csrf()


@pytest.fixture
def signer(app):
    return signer_for(app, "activate")


def link_token(mailbox):
    return mailbox.last_link().rsplit("/", 1)[1]


def _tampered(real):
    payload, timestamp, signature = real.split(".")

    def swap(text, at):
        return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1 :]

    return {
        "payload-byte": f"{swap(payload, 2)}.{timestamp}.{signature}",
        "timestamp-byte": f"{payload}.{swap(timestamp, 1)}.{signature}",
        "signature-byte": f"{payload}.{timestamp}.{swap(signature, 5)}",
        "signature-dropped": f"{payload}.{timestamp}",
        "signature-empty": f"{payload}.{timestamp}.",
        "extra-part": f"{real}.AAAA",
        "appended": real + "x",
        "prepended": "x" + real,
        "dots-swapped": real.replace(".", "!"),
        "truncated-1": real[:-1],
        "truncated-10": real[:-10],
        "truncated-half": real[: len(real) // 2],
        "payload-only": payload,
        "first-char": real[:1],
        "upper": real.upper(),
        "padded-to-512": real + "A" * (512 - len(real)),
        "over-512": real + "A" * (513 - len(real)),
    }


GARBAGE_TOKENS = {
    "x": "x",
    "dot": ".",
    "three-dots": "...",
    "a.b.c": "a.b.c",
    "nul": "%00",
    "nul-in-middle": "abc%00def.ghi.jkl",
    "non-utf8": "%ff%fe",
    "bidi": "%E2%80%AE",
    "accents": "é" * 10,
    "emoji": "🙂" * 20,
    "null": "null",
    "json": "%7B%22c%22%3A1%7D",
    "huge-1k": "A" * 1000,
    "huge-100k": "A" * 100_000,
    "percent-junk": "%zz",
    "spaces": "%20%20%20",
    "control": "%01%02%1b",
}


def _forged(app, signer, real_payload, code):
    """Tokens with a good signature (right key, right salt) and a payload of the wrong shape; plus tokens
    signed with the right key under another salt, no salt, no timestamp, or with another key."""
    c, sealed = real_payload
    other_row = _reseal(sealed, flip=0)
    payloads = {
        "null": None,
        "object": {"c": c, "k": sealed},
        "string": "hello",
        "number": 123,
        "empty-list": [],
        "one-item": [c],
        "three-items": [c, sealed, sealed],
        "reversed": [sealed, c],
        "readable-code (the old shape)": {"c": c, "k": code},
        "readable-code-list": [c, code],
        "c-string": [str(c), sealed],
        "c-float": [float(c), sealed],
        "c-null": [None, sealed],
        "c-object": [{"$gt": 0}, sealed],
        "c-list": [[c], sealed],
        "c-bool": [True, sealed],
        "c-negative": [-1, sealed],
        "c-zero": [0, sealed],
        "c-another-row": [c + 1, sealed],
        "c-int64-max": [2**63 - 1, sealed],
        "c-over-int64": [2**63, sealed],
        "c-huge": [2**70, sealed],
        "c-huge-negative": [-(2**70), sealed],
        "sealed-int": [c, 12345],
        "sealed-null": [c, None],
        "sealed-list": [c, [sealed]],
        "sealed-nested": [c, [[[[[[[[[[[[sealed]]]]]]]]]]]]],
        "sealed-byte-flipped": [c, other_row],
        "sealed-truncated": [c, sealed[:-4]],
        "sealed-short": [c, sealed[:8]],
        "sealed-not-base64": [c, "!" * len(sealed)],
        "sealed-nul": [c, "\x00" * 10],
        "sealed-long": [c, "A" * 300],
        "sealed-empty": [c, ""],
    }
    tokens = {f"signed {name}": signer.sign(value) for name, value in payloads.items()}
    for purpose in ("email-change", "email-change-cancel", "reset"):
        tokens[f"purpose {purpose}"] = signer_for(app, purpose).sign(real_payload)
    key = app.config["SECRET_KEY"]
    tokens["default salt"] = URLSafeTimedSerializer(key).dumps(real_payload)
    tokens["untimed, right salt"] = URLSafeSerializer(key, salt=signer._serializer.salt).dumps(real_payload)
    tokens["another key"] = signer_for(app, "activate", key="another-secret-key-that-is-long").sign(real_payload)
    return tokens


def send_links(app, client, subtests, tokens):
    """Open every token as a link (GET and HEAD): each a 400 that fills in no code and counts no attempt."""
    for name, bad in tokens.items():
        url = f"/activate/{bad}"
        with subtests.test(f"GET link {name}"):
            response = answers(app, client, "GET", url, 400, unchanged="core")
            assert not re.search(r'name="code"[^>]*value="[^"]+"', response.get_data(as_text=True)), "code filled in"
        with subtests.test(f"HEAD link {name}"):
            assert answers(app, client, "HEAD", url, 400, unchanged="core").get_data() == b"", "HEAD with a body"
    with app.app_context():
        assert not any(c.failed_attempts for c in OneTimeCode.select()), "opening links counted wrong attempts"
    assert account_status(app) == "pending"


def test_tampered_truncated_and_garbage_links_are_400_and_change_nothing(app, client, registered, mailbox, subtests):
    real = link_token(mailbox)
    tokens = {**_tampered(real), **GARBAGE_TOKENS}
    assert real not in tokens.values()
    send_links(app, client, subtests, tokens)


def _reseal(sealed, flip):
    """The sealed code with one byte changed: AES-GCM must refuse it."""
    raw = bytearray(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4)))
    raw[flip] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_links_signed_right_but_shaped_wrong_or_for_another_purpose_are_400(
    app, client, registered, mailbox, signer, subtests
):
    real = signer.check(link_token(mailbox)).data
    assert isinstance(real, list) and real[0] > 0  # the shape domain/links.py signs: [row id, sealed code]
    code = mailbox.last_code().replace("-", "")
    assert code not in link_token(mailbox) and code not in str(real)  # opaque: the code is not in the URL
    send_links(app, client, subtests, _forged(app, signer, real, code))


def test_the_genuine_link_still_works_after_all_that(app, client, registered, mailbox, signer):
    real = link_token(mailbox)
    for bad in [
        *_tampered(real).values(),
        *list(_forged(app, signer, signer.check(real).data, WRONG_CODE).values())[:10],
    ]:
        client.get(f"/activate/{bad}")
    head = client.head(f"/activate/{real}")
    assert head.status_code == 303 and head.get_data() == b""
    response = client.get(f"/activate/{real}", follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/activate"
    assert f'value="{mailbox.last_code()}"' in response.get_data(as_text=True)
    assert account_status(app) == "pending"


def test_link_urls_that_are_not_one_token(app, client, registered, mailbox, token, subtests):
    for path in ("/activate/", "/activate/a/b", "/activate//", "/activate/%2F"):
        with subtests.test(f"GET {path}"):
            answers(app, client, "GET", path, 404, unchanged="core")
    with subtests.test("POST to a genuine link"):
        answers(app, client, "POST", mailbox.last_link(), 405, unchanged="core", data={"csrf_token": token})


@given(tail=st.text(st.characters(codec="ascii"), max_size=600))
def test_property_arbitrary_link_tokens_never_500(app, client, registered, tail):
    response = client.get(f"/activate/{quote(tail, safe='')}") if tail else client.get("/activate")
    # An escaped "/" splits the token into two path segments: 404, or a 308 where Werkzeug merges "//".
    assert response.status_code in ({200} if not tail else {400, 404, 308})
    assert account_status(app) == "pending"
