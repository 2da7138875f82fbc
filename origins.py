"""Whether a POST came from Kapu's own site, read from the Origin (or Referer) header a browser sends."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, default port filled in; None when it has no http(s) origin."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def from_another_site(sender: str | None, *own_urls: str) -> bool:
    """Whether *sender* (the Origin header, else the Referer) names a site other than *own_urls*.

    A request with neither header (a script, an old browser) is not refused here: it still needs its CSRF token.
    """
    if sender is None:
        return False
    found = origin(sender)
    return found is None or found not in {origin(url) for url in own_urls}
