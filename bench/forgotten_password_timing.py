"""Forgotten-password timing: does a match cost the same as the two non-match cases?

Run with `.venv/bin/python bench/forgotten_password_timing.py [runs]` (150 by default). Interleaves the
three cases (match; unknown user; known user with a wrong e-mail) through the Flask test client on a
fresh SQLite database, and prints each case's median. tests/test_recovery.py runs it under `-m slow`.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from argon2 import PasswordHasher  # noqa: E402

from app import create_app  # noqa: E402
from domain import registration  # noqa: E402

CASES = {
    "match": ("kovacs.janos", "janos@example.hu"),
    "unknown user": ("nobody.here", "janos@example.hu"),
    "known user, wrong e-mail": ("kovacs.janos", "someone.else@example.hu"),
}


def measure(runs: int = 150, data_dir: str | None = None) -> dict[str, float]:
    """Median seconds per case over *runs* interleaved requests each (after a warm-up)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(data_dir or scratch)
        app = create_app(
            {
                "TESTING": True,
                "KAPU_DATABASE_URL": f"sqlite:///{folder / 'kapu.db'}",
                "KAPU_SECRET_KEY": "bench-secret-key-that-is-long-enough",
                "KAPU_BASE_URL": "http://kapu.test",
                "KAPU_SMTP_HOST": "",
                "KAPU_LANGUAGE": "en",
                "KAPU_CODES_PER_ACCOUNT_PER_HOUR": str(10 * runs),
                "KAPU_CLIENT_MAILS_PER_HOUR": str(10 * runs),
                "KAPU_CLIENT_POSTS_PER_MINUTE": str(10 * runs),
                "PASSWORD_HASHER": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
            }
        )
        try:
            with app.test_request_context():
                registration.register(
                    app.extensions["kapu"],
                    username="kovacs.janos",
                    full_name="Kovács János",
                    email="janos@example.hu",
                    language="hu",
                    channel="office",
                )
            client = app.test_client()
            page = client.get("/forgotten-password").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

            def timed(username, email):
                start = time.perf_counter()
                response = client.post(
                    "/forgotten-password", data={"csrf_token": token, "username": username, "email": email}
                )
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    raise RuntimeError(f"unexpected status {response.status_code}")
                return elapsed

            for _ in range(5):  # warm up every path
                for username, email in CASES.values():
                    timed(username, email)
            samples: dict[str, list[float]] = {name: [] for name in CASES}
            for _ in range(runs):
                for name, (username, email) in CASES.items():
                    samples[name].append(timed(username, email))
            return {name: statistics.median(values) for name, values in samples.items()}
        finally:
            app.extensions["kapu_database"].close()


def report(medians: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in medians.items())


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    medians = measure(runs)
    print(f"forgotten-password medians over {runs} interleaved runs: {report(medians)}")
    spread = (max(medians.values()) - min(medians.values())) / max(medians.values())
    print(f"largest difference: {spread:.1%} of the slowest median")
