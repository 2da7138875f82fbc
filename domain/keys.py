"""Separate keys per use, derived once from the secret key, so one purpose never verifies another."""

import hashlib
import hmac


def derive(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), f"kapu/{purpose}".encode(), hashlib.sha256).digest()
