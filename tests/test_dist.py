"""Smoke test of the built one-file binary `dist/kapu`, run in a clean folder as an operator would use it.

Runs when `dist/kapu` exists (`make dist`; `.ci/run` builds it). Under CI=true a missing binary fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.served import CODE, ROOT, ServedKapu, activate, clean_environment, login, register, wait_for
from tests.smtp_server import SmtpServer

BINARY = ROOT / "dist" / "kapu"
PASSWORD = "kerekes kút mellett áll a nyírfa"

pytestmark = pytest.mark.dist

if not BINARY.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("dist/kapu is missing: CI builds it with `make dist` before the tests")
    pytest.skip("dist/kapu is not built (make dist)", allow_module_level=True)


def _kapu(folder, *args, env):
    return subprocess.run(
        [str(folder / "kapu"), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def _install(folder, source=BINARY):
    """Copy the binary into place the way an upgrade does: a new file renamed over the old one."""
    shutil.copy2(source, folder / "kapu.new")
    os.replace(folder / "kapu.new", folder / "kapu")


def test_the_binary_keeps_its_data_serves_delivers_and_survives_a_rebuild(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    _install(folder)
    env = clean_environment(KAPU_LANGUAGE="en", TMPDIR=str(tmp_path))
    env.pop("PYTHONPATH", None)

    version = _kapu(folder, "--version", env=env)
    assert version.returncode == 0 and version.stdout.startswith("kapu "), version
    first_version = version.stdout

    assert _kapu(folder, "init-db", env=env).returncode == 0
    added = _kapu(folder, "notice", "add", "--title", "Karbantartás", "--body", "Szombaton", env=env)
    assert added.returncode == 0, added.stderr
    listed = _kapu(folder, "notice", "list", env=env)  # a second process: the data outlived the first
    assert "Karbantartás" in listed.stdout, listed
    assert (folder / "kapu-data" / "kapu.db").exists() and (folder / "kapu-data" / "secret_key").exists()

    smtp = SmtpServer().start()
    try:
        served_env = {**env, "KAPU_SMTP_HOST": "127.0.0.1", "KAPU_SMTP_PORT": str(smtp.port), "KAPU_WORKERS": "2"}
        started = time.monotonic()
        server = ServedKapu(tmp_path, served_env, command=[str(folder / "kapu")], cwd=folder)
        try:
            server.wait_ready(timeout=60)
            print(f"cold start to first answer: {time.monotonic() - started:.2f} s")
            page = _get(server.url + "/static/vendor/htmx.min.js")
            assert "htmx" in page
            assert "Karbantartás" in _get(server.url + "/notices")
            # The build leaves out the other languages' locale data and loads Markdown at first use: a help
            # article in Hungarian needs both (the date format of hu, the parser the binary must still carry).
            article = _get(server.url + "/help/registration?lang=hu")
            assert "Regisztráció és ügyfélfiók" in article and "Létrehozva: " in article and "<p>" in article
            register(server.url, "binaris.bela", "bela@example.hu")
            assert wait_for(lambda: len(smtp.received) == 1, timeout=30), smtp.received
            text = smtp.received[0]["message"].get_body(("plain",)).get_content()
            assert activate(server.url, "binaris.bela", CODE.search(text).group(1), PASSWORD) == 200
            assert login(server.url, "binaris.bela", PASSWORD) == 303
        finally:
            assert server.terminate() == 0, server.stderr
    finally:
        smtp.stop()

    # The upgrade as the README's "Upgrading" says: a fresh build replaces the file, `migrate` (which has nothing
    # to do unless the checkout gained a migration since dist/kapu was built), then every account is still there.
    rebuilt = subprocess.run(["make", "dist"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr[-2000:]
    _install(folder)
    assert _kapu(folder, "--version", env=env).stdout != first_version
    migrated = _kapu(folder, "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    server = ServedKapu(tmp_path, env, command=[str(folder / "kapu")], cwd=folder)
    try:
        server.wait_ready(timeout=60)
        assert login(server.url, "binaris.bela", PASSWORD) == 303
        assert "Karbantartás" in _get(server.url + "/notices")
    finally:
        assert server.terminate() == 0, server.stderr


def test_the_binary_carries_the_postgresql_driver(tmp_path, postgres_server):
    """`KAPU_DATABASE_URL=postgresql://…` is all it takes, with nothing installed beside the file."""
    folder = tmp_path / "site"
    folder.mkdir()
    _install(folder)
    env = clean_environment(
        KAPU_LANGUAGE="en",
        TMPDIR=str(tmp_path),
        KAPU_DATABASE_URL=postgres_server.url(postgres_server.create_database()),
    )
    env.pop("PYTHONPATH", None)
    assert _kapu(folder, "init-db", env=env).returncode == 0
    added = _kapu(folder, "notice", "add", "--title", "Áramszünet", "--body", "Hétfőn", env=env)
    assert added.returncode == 0, added.stderr
    assert "Áramszünet" in _kapu(folder, "notice", "list", env=env).stdout


def _get(url):
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()
