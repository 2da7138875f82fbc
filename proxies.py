"""The real client behind trusted reverse proxies, set once per request before Flask sees it.

Only `KAPU_TRUSTED_PROXIES` makes forwarding headers count. A hop count uses werkzeug's ProxyFix; a list
of addresses/CIDRs walks X-Forwarded-For from the right, past the trusted proxies, to the first address
no trusted proxy vouches for. Either way REMOTE_ADDR and the scheme are rewritten, so
`request.remote_addr` (read through `views.common.client_address()`) is the client's own address.
"""

from __future__ import annotations

import functools
import re
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address

from werkzeug.middleware.proxy_fix import ProxyFix

SCHEMES = ("http", "https")
# An IPv4 address in its one spelling (no leading zeros): what ipaddress reads it as, str() writes back unchanged.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


def install(app):
    """Wrap the WSGI app according to KAPU_TRUSTED_PROXIES (unset: forwarding headers are ignored)."""
    trusted = app.config["KAPU_TRUSTED_PROXIES"]
    if trusted is None:
        return
    if isinstance(trusted, int):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=0, x_port=0, x_prefix=0)
    else:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)


def has_forwarding_headers(environ) -> bool:
    """Whether a request carries any proxy header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`), trusted or not."""
    return any(name in ("HTTP_FORWARDED", "HTTP_X_REAL_IP") or name.startswith("HTTP_X_FORWARDED_") for name in environ)


def parse_address(text: str) -> IPv4Address | IPv6Address | None:
    """One X-Forwarded-For entry as an address (`[v6]:port` and `v4:port` too); None when it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def is_trusted(address, networks) -> bool:
    if address is None:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def walk(peer: str, forwarded_for: list[str], networks) -> tuple[str, int]:
    """(client address, trusted hops passed): from the peer leftwards while the current hop is trusted.

    Every entry looked at was written by a trusted proxy about the hop it saw. An entry that is no address
    (a misconfigured proxy) stops the walk at the nearest trusted hop, which the client cannot choose.
    """
    if not is_trusted(parse_address(peer), networks):
        return peer, 0
    return walk_from_trusted(peer, forwarded_for, networks)


def ipv4_masks(networks) -> tuple[tuple[int, int], ...]:
    """The IPv4 networks as (netmask, network address) integers: `address in network` for an IPv4 address is
    `int(address) & netmask == network address` (and no IPv6 network holds one)."""
    return tuple((int(network.netmask), int(network.network_address)) for network in networks if network.version == 4)


def walk_from_trusted(peer: str, forwarded_for: list[str], networks, masks=None) -> tuple[str, int]:
    """walk() from a peer already known to be trusted: each entry is parsed once.

    An entry that is an IPv4 address spelt as it is written back (nearly every one) is read without making an
    address object, against *masks* (ipv4_masks(networks)): making one and writing it back cost three times as much.
    """
    masks = ipv4_masks(networks) if masks is None else masks
    current, hops = peer, 0
    for entry in reversed(forwarded_for):
        if _CANONICAL_IPV4.fullmatch(entry):
            current, hops = entry, hops + 1
            value = int.from_bytes(socket.inet_aton(entry), "big")
            if not any(value & netmask == network for netmask, network in masks):
                break
            continue
        address = parse_address(entry)
        if address is None:
            break
        current, hops = str(address), hops + 1
        if not is_trusted(address, networks):
            break
    return current, hops


def _values(header: str | None) -> list[str]:
    return [value.strip() for value in (header or "").split(",") if value.strip()]


class TrustedProxies:
    """WSGI middleware for a list of trusted proxy addresses/CIDRs."""

    def __init__(self, app, networks):
        self.app = app
        self.networks = tuple(networks)
        self.masks = ipv4_masks(self.networks)
        # The peer is nearly always the proxy itself: its address is parsed and looked up once.
        self._trusted_peer = functools.lru_cache(maxsize=64)(
            lambda peer: is_trusted(parse_address(peer), self.networks)
        )

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        if self._trusted_peer(peer):
            client, hops = walk_from_trusted(
                peer, _values(environ.get("HTTP_X_FORWARDED_FOR")), self.networks, self.masks
            )
            environ["kapu.proxy_peer"] = peer
            environ["REMOTE_ADDR"] = client
            schemes = _values(environ.get("HTTP_X_FORWARDED_PROTO"))
            hops = max(hops, 1)  # the scheme the outermost trusted proxy was reached with
            if len(schemes) >= hops and schemes[-hops].lower() in SCHEMES:
                environ["wsgi.url_scheme"] = schemes[-hops].lower()
        return self.app(environ, start_response)
