from itsdangerous import URLSafeTimedSerializer

from domain.links import LinkSigner

SECRET = "a-secret-that-is-long-enough"


def test_a_signed_link_reads_back():
    signer = LinkSigner(SECRET, "activate", max_age=60)
    assert signer.check(signer.sign({"c": 1, "k": "X"})).status == "valid"
    assert signer.check(signer.sign({"c": 1, "k": "X"})).data == {"c": 1, "k": "X"}


def test_expired_is_told_apart_from_invalid(monkeypatch):
    signer = LinkSigner(SECRET, "activate", max_age=60)
    token = signer.sign({"c": 1})
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 61)
    assert signer.check(token).status == "expired"


def test_tampered_truncated_foreign_salt_and_foreign_key_tokens_are_invalid():
    signer = LinkSigner(SECRET, "activate", max_age=60)
    token = signer.sign({"c": 1, "k": "X"})
    foreign_salt = LinkSigner(SECRET, "email-change", max_age=60).sign({"c": 1, "k": "X"})
    foreign_key = URLSafeTimedSerializer("another-secret-key-here", salt="kapu.link.activate").dumps({"c": 1})
    for bad in (
        token[:-3],
        token[:10],
        token.replace(".", "x", 1),
        "A" + token[1:],
        foreign_salt,
        foreign_key,
        "",
        None,
        "x" * 5000,
        "é" * 10,
    ):
        assert signer.check(bad).status == "invalid", bad
