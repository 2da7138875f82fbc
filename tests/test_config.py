import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults(tmp_path):
    loaded = config.load({}, str(tmp_path))
    assert loaded["KAPU_DATABASE_URL"] == f"sqlite:///{tmp_path / 'kapu.db'}"
    assert loaded["KAPU_BASE_URL"] == "http://127.0.0.1:5000"
    assert loaded["KAPU_CODE_TTL"] == 259200 and loaded["KAPU_CODE_MAX_ATTEMPTS"] == 5
    assert loaded["KAPU_PASSWORD_MIN_LENGTH"] == 15 and loaded["KAPU_LANGUAGE"] == "hu"
    assert loaded["KAPU_SMTP_HOST"] is None and loaded["KAPU_SMTP_PORT"] == 25
    assert loaded["KAPU_MAIL_FROM"] == "Kapu <no-reply@localhost>"
    assert loaded["SESSION_COOKIE_SECURE"] is False


def test_the_generated_secret_key_is_kept_private_and_reused(tmp_path):
    first = config.load({}, str(tmp_path))["SECRET_KEY"]
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert config.load({}, str(tmp_path))["SECRET_KEY"] == first


def test_https_base_url_makes_cookies_secure(tmp_path):
    assert config.load({"KAPU_BASE_URL": "https://kapu.example.hu/"}, str(tmp_path))["SESSION_COOKIE_SECURE"]


@pytest.mark.parametrize(
    "name, value",
    [
        ("KAPU_CODE_TTL", "three days"),
        ("KAPU_CODE_TTL", "0"),
        ("KAPU_CODE_MAX_ATTEMPTS", "-1"),
        ("KAPU_PASSWORD_MIN_LENGTH", "4"),
        ("KAPU_PASSWORD_MIN_LENGTH", "14"),
        ("KAPU_SMTP_PORT", "70000"),
        ("KAPU_SMTP_STARTTLS", "maybe"),
        ("KAPU_LANGUAGE", "de"),
        ("KAPU_BASE_URL", "kapu.example.hu"),
        ("KAPU_DATABASE_URL", "mysql://x"),
        ("KAPU_SECRET_KEY", "short"),
        ("KAPU_MAIL_FROM", "nobody"),
    ],
)
def test_invalid_configuration_is_named(tmp_path, name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.load({name: value}, str(tmp_path))


@pytest.mark.slow  # starts the command line as processes
def test_invalid_configuration_stops_the_command_line_with_one_clear_line(tmp_path):
    env = {**os.environ, "KAPU_CODE_TTL": "soon", "KAPU_DATABASE_URL": f"sqlite:///{tmp_path}/k.db"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "init-db"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "kapu: invalid configuration: KAPU_CODE_TTL must be a whole number (got 'soon')"
    ]


def test_the_data_dir_holds_the_database_and_the_generated_key(tmp_path):
    loaded = config.load({"KAPU_DATA_DIR": str(tmp_path / "data")}, str(tmp_path / "instance"))
    assert loaded["KAPU_DATA_DIR"] == str(tmp_path / "data")
    assert loaded["KAPU_DATABASE_URL"] == f"sqlite:///{tmp_path / 'data' / 'kapu.db'}"
    assert (tmp_path / "data" / "secret_key").exists() and not (tmp_path / "instance").exists()


def test_a_data_dir_that_is_a_file_is_refused_by_name(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(config.ConfigError, match="^KAPU_DATA_DIR must be a folder"):
        config.load({"KAPU_DATA_DIR": str(tmp_path / "file")}, str(tmp_path))


def test_the_binary_keeps_its_data_in_the_working_directory_never_in_its_unpack_folder(tmp_path, monkeypatch):
    unpack = tmp_path / "_MEI12345"
    unpack.mkdir()
    monkeypatch.setattr(sys, "_MEIPASS", str(unpack), raising=False)
    monkeypatch.chdir(tmp_path)
    loaded = config.load({}, str(unpack / "instance"))
    assert loaded["KAPU_DATA_DIR"] == str(tmp_path / "kapu-data")
    assert (tmp_path / "kapu-data" / "secret_key").exists()
    with pytest.raises(config.ConfigError, match="^KAPU_DATA_DIR must not be inside the unpack folder"):
        config.load({"KAPU_DATA_DIR": str(unpack / "data")}, str(unpack / "instance"))


def test_the_app_uses_the_data_dir_as_its_instance_folder(tmp_path):
    from app import create_app

    app = create_app({"KAPU_DATA_DIR": str(tmp_path / "data"), "KAPU_SMTP_HOST": ""})
    assert app.instance_path == str(tmp_path / "data")
    assert (tmp_path / "data" / "kapu.db").exists()
    app.extensions["kapu_database"].close()


def test_workers_default_to_the_cores_and_are_validated(tmp_path):
    assert config.load({}, str(tmp_path))["KAPU_WORKERS"] == len(os.sched_getaffinity(0))
    assert config.load({"KAPU_WORKERS": "3"}, str(tmp_path))["KAPU_WORKERS"] == 3
    with pytest.raises(config.ConfigError, match="^KAPU_WORKERS must be at least 1"):
        config.load({"KAPU_WORKERS": "0"}, str(tmp_path))
