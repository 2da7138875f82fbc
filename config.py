"""Kapu's configuration: read once from the environment at start, validated, with embedded defaults."""

from __future__ import annotations

import ipaddress
import os
import secrets
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A configuration value is unusable; the message names the variable."""


LANGUAGES = ("hu", "en")


def _integer(env, name, default, minimum, maximum=None):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigError(f"{name} must be at least {minimum}{upper} (got {value})")
    return value


def _flag(env, name, default=False):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1 (got {raw!r})")


def _cores():
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _base_url(env):
    # Unset, links point where `make run` listens (KAPU_HOST/KAPU_PORT), http://127.0.0.1:5000 by default.
    host = env.get("KAPU_HOST", "").strip() or "127.0.0.1"
    port = env.get("KAPU_PORT", "").strip() or "5000"
    raw = env.get("KAPU_BASE_URL", "").strip() or f"http://{host}:{port}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"KAPU_BASE_URL must be an http:// or https:// address (got {raw!r})")
    return raw.rstrip("/")


def _data_dir(env, instance_path):
    """KAPU_DATA_DIR, else `instance/` in a checkout or `kapu-data/` in the working directory for the binary."""
    raw = env.get("KAPU_DATA_DIR", "").strip()
    frozen_into = getattr(sys, "_MEIPASS", None)  # the binary's unpack folder: deleted at every exit
    if raw:
        folder = Path(raw).expanduser().absolute()
    elif frozen_into:
        folder = Path.cwd() / "kapu-data"
    else:
        return str(instance_path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"KAPU_DATA_DIR must be a folder ({folder} is not)")
    if frozen_into and folder.resolve().is_relative_to(Path(frozen_into).resolve()):
        raise ConfigError(f"KAPU_DATA_DIR must not be inside the unpack folder {frozen_into} (got {folder})")
    return str(folder)


def _database_url(env, instance_path):
    raw = env.get("KAPU_DATABASE_URL", "").strip() or "sqlite:///instance/kapu.db"
    scheme = raw.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgres") or "://" not in raw:
        raise ConfigError(f"KAPU_DATABASE_URL must start with sqlite:/// or postgresql:// (got {raw!r})")
    if raw == "sqlite:///instance/kapu.db":
        return f"sqlite:///{Path(instance_path) / 'kapu.db'}"
    return raw


def _secret_key(env, instance_path):
    """Use KAPU_SECRET_KEY, else a key generated once and kept private in the instance folder."""
    raw = env.get("KAPU_SECRET_KEY")
    if raw is not None and raw.strip():
        if len(raw.strip()) < 16:
            raise ConfigError("KAPU_SECRET_KEY must be at least 16 characters long")
        return raw.strip()
    path = Path(instance_path) / "secret_key"
    try:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
    except FileExistsError:
        key = path.read_text().strip()
    except OSError as error:
        raise ConfigError(f"KAPU_SECRET_KEY is unset and {path} cannot be used ({error.strerror})") from None
    if len(key) < 16:
        raise ConfigError(f"KAPU_SECRET_KEY is unset and {path} holds no usable key")
    return key


def _secret_key_fallbacks(env):
    """Earlier secret keys (comma-separated, newest first): they still verify and decrypt, never sign."""
    raw = env.get("KAPU_SECRET_KEY_FALLBACKS", "")
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if any(len(key) < 16 for key in keys):
        raise ConfigError("KAPU_SECRET_KEY_FALLBACKS must list keys of at least 16 characters, separated by commas")
    return keys


def _metrics_token(env):
    raw = (env.get("KAPU_METRICS_TOKEN") or "").strip()
    if raw and len(raw) < 16:
        raise ConfigError("KAPU_METRICS_TOKEN must be at least 16 characters long")
    return raw or None


def _log_format(env):
    raw = (env.get("KAPU_LOG_FORMAT") or "").strip().lower() or "plain"
    if raw not in ("plain", "json"):
        raise ConfigError(f"KAPU_LOG_FORMAT must be plain or json (got {raw!r})")
    return raw


def _trusted_proxies(env):
    """None (trust no forwarding header), a hop count, or a tuple of networks the proxies speak from."""
    raw = env.get("KAPU_TRUSTED_PROXIES", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        hops = int(raw)
        if not 1 <= hops <= 10:
            raise ConfigError(f"KAPU_TRUSTED_PROXIES must be a hop count from 1 to 10 or addresses (got {raw!r})")
        return hops
    networks = []
    for item in raw.split(","):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"KAPU_TRUSTED_PROXIES must be a hop count or comma-separated addresses/CIDRs (got {item.strip()!r})"
            ) from None
    return tuple(networks)


def _mail_from(env):
    raw = env.get("KAPU_MAIL_FROM", "").strip() or "Kapu <no-reply@localhost>"
    if "@" not in raw or any(ord(ch) < 32 for ch in raw):
        raise ConfigError(f"KAPU_MAIL_FROM must be a mail address (got {raw!r})")
    return raw


def _smtp(env):
    """SMTP settings: certificates are always verified; a login needs TLS unless plain text is allowed outright."""
    starttls = _flag(env, "KAPU_SMTP_STARTTLS")
    implicit_tls = _flag(env, "KAPU_SMTP_TLS")
    if starttls and implicit_tls:
        raise ConfigError(
            "KAPU_SMTP_TLS (TLS from the first byte, port 465) and KAPU_SMTP_STARTTLS "
            "(upgrade on port 25/587) exclude each other: set one"
        )
    username = env.get("KAPU_SMTP_USERNAME") or None
    allow_plaintext = _flag(env, "KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN")
    host = env.get("KAPU_SMTP_HOST", "").strip() or None
    if host and username and not (starttls or implicit_tls or allow_plaintext):
        raise ConfigError(
            "KAPU_SMTP_USERNAME is set without KAPU_SMTP_STARTTLS=1 or KAPU_SMTP_TLS=1: the SMTP "
            "password would travel in clear (KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN=1 allows it)"
        )
    ca_file = env.get("KAPU_SMTP_CA_FILE", "").strip() or None
    if ca_file:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(
                f"KAPU_SMTP_CA_FILE must be a readable PEM file of CA certificates "
                f"({ca_file}: {getattr(error, 'strerror', None) or error})"
            ) from None
    return {
        "KAPU_SMTP_HOST": host,
        "KAPU_SMTP_PORT": _integer(env, "KAPU_SMTP_PORT", 465 if implicit_tls else 25, 1, 65535),
        "KAPU_SMTP_USERNAME": username,
        "KAPU_SMTP_PASSWORD": env.get("KAPU_SMTP_PASSWORD") or None,
        "KAPU_SMTP_STARTTLS": starttls,
        "KAPU_SMTP_TLS": implicit_tls,
        "KAPU_SMTP_CA_FILE": ca_file,
        "KAPU_SMTP_ALLOW_PLAINTEXT_LOGIN": allow_plaintext,
    }


def load(env: dict | None = None, instance_path: str = "instance") -> dict:
    """Return Flask config entries for the KAPU_* variables in *env* (default: os.environ)."""
    env = os.environ if env is None else env
    language = (env.get("KAPU_LANGUAGE", "").strip() or "hu").lower()
    if language not in LANGUAGES:
        raise ConfigError(f"KAPU_LANGUAGE must be hu or en (got {language!r})")
    base_url = _base_url(env)
    instance_path = _data_dir(env, instance_path)
    return {
        "KAPU_DATA_DIR": instance_path,
        "KAPU_DATABASE_URL": _database_url(env, instance_path),
        "SECRET_KEY": _secret_key(env, instance_path),
        "SECRET_KEY_FALLBACKS": _secret_key_fallbacks(env),
        # Where the generated key lives (backup takes it along); None when KAPU_SECRET_KEY is set.
        "KAPU_SECRET_KEY_FILE": None
        if (env.get("KAPU_SECRET_KEY") or "").strip()
        else str(Path(instance_path) / "secret_key"),
        "KAPU_BASE_URL": base_url,
        "KAPU_CODE_TTL": _integer(env, "KAPU_CODE_TTL", 259200, 1, 366 * 86400),
        "KAPU_CODE_MAX_ATTEMPTS": _integer(env, "KAPU_CODE_MAX_ATTEMPTS", 5, 1, 1000),
        "KAPU_PASSWORD_MIN_LENGTH": _integer(env, "KAPU_PASSWORD_MIN_LENGTH", 15, 15, 64),
        **_smtp(env),
        "KAPU_MAIL_FROM": _mail_from(env),
        "KAPU_LANGUAGE": language,
        "KAPU_LOGIN_MAX_FAILURES": _integer(env, "KAPU_LOGIN_MAX_FAILURES", 5, 1, 100),
        "KAPU_LOGIN_WINDOW": _integer(env, "KAPU_LOGIN_WINDOW", 900, 1, 86400),
        "KAPU_CLIENT_POSTS_PER_MINUTE": _integer(env, "KAPU_CLIENT_POSTS_PER_MINUTE", 120, 1, 100000),
        "KAPU_CLIENT_WRONG_CODES_PER_HOUR": _integer(env, "KAPU_CLIENT_WRONG_CODES_PER_HOUR", 50, 1, 100000),
        "KAPU_CODES_PER_ACCOUNT_PER_HOUR": _integer(env, "KAPU_CODES_PER_ACCOUNT_PER_HOUR", 3, 1, 10000),
        "KAPU_CLIENT_MAILS_PER_HOUR": _integer(env, "KAPU_CLIENT_MAILS_PER_HOUR", 30, 1, 100000),
        "KAPU_DEV_MAILBOX": _flag(env, "KAPU_DEV_MAILBOX"),
        "KAPU_WORKERS": _integer(env, "KAPU_WORKERS", _cores(), 1, 256),
        "KAPU_RETAIN_AUDIT_DAYS": _integer(env, "KAPU_RETAIN_AUDIT_DAYS", 365, 1, 36500),
        "KAPU_RETAIN_MAIL_DAYS": _integer(env, "KAPU_RETAIN_MAIL_DAYS", 30, 1, 36500),
        "KAPU_RETAIN_CODE_DAYS": _integer(env, "KAPU_RETAIN_CODE_DAYS", 30, 1, 36500),
        "KAPU_RETAIN_PENDING_DAYS": _integer(env, "KAPU_RETAIN_PENDING_DAYS", 90, 1, 36500),
        "KAPU_READY_MAX_BACKLOG": _integer(env, "KAPU_READY_MAX_BACKLOG", 1000, 1),
        "KAPU_READY_MAX_MAIL_AGE": _integer(env, "KAPU_READY_MAX_MAIL_AGE", 900, 1),
        "KAPU_METRICS_TOKEN": _metrics_token(env),
        "KAPU_LOG_FORMAT": _log_format(env),
        "KAPU_TRUSTED_PROXIES": _trusted_proxies(env),
        # The public address decides, not the request: the cookie must not depend on the proxy being trusted.
        "KAPU_CLIENT_CHECKS_PER_MINUTE": _integer(env, "KAPU_CLIENT_CHECKS_PER_MINUTE", 120, 1, 100000),
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "SESSION_COOKIE_NAME": "__Host-session" if base_url.startswith("https://") else "session",
    }
