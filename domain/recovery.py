"""Forgotten password: a new code for a matching username and e-mail, and the same answer otherwise."""

from __future__ import annotations

import hmac
from types import SimpleNamespace

from domain import audit, clock, codes, issuing
from domain.accounts import normalise_username
from models import Account, database


def _same_address(stored: str, typed: str) -> bool:
    return hmac.compare_digest(stored.casefold().encode(), typed.casefold().encode())


def request_new_code(kapu, username, email, language, client=None) -> bool:
    """Mail a new code (voiding earlier ones) when *username* and *email* match an account.

    The miss path composes and seals a decoy message too, so both paths cost about the same.
    """
    with database.atomic():
        account = Account.by_username(normalise_username(username))
        if account is not None and _same_address(account.email, email):
            issuing.issue_code(kapu, account, "reset", client=client)
            audit.record("forgotten_password", "code_sent", account=account, client=client)
            return True
        _decoy_message(kapu, language)
        audit.record("forgotten_password", "no_match", username=normalise_username(username)[:64], client=client)
        return False


def _decoy_message(kapu, language):
    code = codes.generate()
    codes.keyed_hash(kapu.code_key, code)
    decoy = SimpleNamespace(full_name="-", display_username="-", language=language)
    subject, text, html = kapu.compose(
        "reset_code", language, account=decoy, code=codes.display(code),
        link=issuing.activation_link(kapu, kapu.activation_links.sign({"c": 0, "k": code})),
        deadline=clock.now(),
    )
    kapu.sealer.encrypt((subject + text + html).encode())
