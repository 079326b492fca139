"""Where a webhook may be sent: public addresses only, checked after DNS and then pinned.

A receiver's URL is the customer's to choose, so it must not become a way to reach the
platform's own network (SSRF): loopback, private, link-local (cloud metadata at 169.254.169.254),
multicast, reserved and unspecified addresses are refused. The host is resolved once, every
address it resolves to is checked, and the connection is made to the checked address itself
(the Host header and TLS server name stay the URL's host), so a DNS answer that changes between
the check and the connection (rebinding) cannot switch it to a private one.

`WEBHOOK_ALLOW_LOOPBACK` lets loopback through (only loopback) for the test suite and the local
demo; the production settings force it off.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL may not be called: a message naming the rule, fit for the delivery log."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL: the Host header and the TLS server name
    port: int
    path: str  # path and query
    address: str  # the checked IP to connect to


def _loopback_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False))


def refusal(address: IPAddress) -> str | None:
    """Why this address may not receive webhooks, or None when it may."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:10.0.0.1 reaches 10.0.0.1
        address = mapped
    if address.is_loopback:
        return None if _loopback_allowed() else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def check_url(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of a URL webhooks may use, judged without DNS (a literal IP
    is judged here; a name is judged when it is resolved, at each delivery)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"The URL is not valid: {exc}.") from None
    if parts.scheme not in ("https", "http"):
        raise AddressRefused("The URL must start with https:// (or http://).")
    if not parts.hostname:
        raise AddressRefused("The URL must name a host.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("The URL must not contain a user name or password.")
    if parts.fragment:
        raise AddressRefused("The URL must not contain a #fragment.")
    host = parts.hostname
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = refusal(literal)
        if reason:
            raise AddressRefused(f"Webhooks are never sent to {reason} ({literal}).")
    elif host.rstrip(".").lower() in ("localhost", "localhost.localdomain") and not _loopback_allowed():
        raise AddressRefused("Webhooks are never sent to a loopback address (localhost).")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """Resolve the URL's host and check every address it has; raises AddressRefused."""
    scheme, host, port, path = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"The host {host} does not resolve: {exc}.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise AddressRefused(f"The host {host} does not resolve.")
    for text in addresses:
        reason = refusal(ipaddress.ip_address(text.split("%")[0]))
        if reason:
            # One bad address refuses the host: a resolver may hand out any of them.
            raise AddressRefused(f"Webhooks are never sent to {reason}: {host} resolves to {text}.")
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def connection(target: Target, *, timeout: float) -> Any:
    """An http.client connection to the checked address. http.client never follows redirects."""
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout, ssl.create_default_context())
    return _PinnedHTTPConnection(target, timeout)
