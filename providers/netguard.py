"""Keep provider traffic off our own network (SSRF), when a URL is saved and when we connect.

A tenant admin chooses the base URL our workers call. `validate_base_url` (services) checks
the host's addresses when the URL is saved, but DNS can change afterwards (rebinding), so
`GuardedTransport` checks again on every new connection: it resolves the host itself,
refuses when any address is non-public, and connects to an address it checked, so the
check and the connection cannot see different DNS answers. TLS still verifies the host
name (httpcore sends the origin's name as SNI). Connection reuse is untouched: a pooled
connection is checked once, when it is opened, and no lookup is added (we resolve instead
of `socket.create_connection`).

Pure Python + httpx/httpcore: no Django models, so the adapters' layer rules hold.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from .adapters.errors import Unavailable

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Cloud metadata endpoints; most are caught as non-global already, Azure's is public.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "168.63.129.16", "100.100.100.200", "fd00:ec2::254")
)


class NonPublicAddress(Unavailable):
    """Connecting was refused because the host resolves to a private/internal address.

    An Unavailable (retried later, like a DNS failure) that never reached anybody
    (request_sent=False), so a send stays safe to retry and a sync run fails with this
    message instead of calling into our network."""

    def __init__(self, host: str):
        super().__init__(
            f"Connecting to {host} refused: resolves to a non-public address.", request_sent=False
        )
        self.host = host


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def is_sandbox_url(url: str) -> bool:
    return bool(settings.SANDBOX_URL) and origin(url) == origin(settings.SANDBOX_URL)


def is_refused_address(address: str) -> bool:
    """True for private, loopback, link-local, CGNAT, reserved, multicast and metadata addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    # not is_global covers RFC 1918, loopback, link-local, CGNAT, unspecified and reserved.
    return not ip.is_global or ip.is_multicast or ip in METADATA_ADDRESSES


def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (socket.gaierror when it has none)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))  # ordered, without duplicates


def any_refused(addresses: Iterable[str]) -> bool:
    addresses = list(addresses)
    return not addresses or any(is_refused_address(a) for a in addresses)


def needs_guard(url: str) -> bool:
    """The sandbox, and a developer's local simulator in DEBUG, are ours to call."""
    if is_sandbox_url(url):
        return False
    _scheme, host, _port = origin(url)
    return not (settings.DEBUG and host in LOCAL_HOSTS)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, connecting only to public addresses it resolved itself."""

    def __init__(self, backend: httpcore.NetworkBackend | None = None):
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"Cannot resolve {host}") from exc
        if any_refused(addresses):
            raise NonPublicAddress(host)  # not an httpcore error: passes through httpx as it is
        error: Exception | None = None
        for address in addresses:  # like socket.create_connection: the first that answers
            try:
                return self._backend.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, *args, **kwargs) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are not provider endpoints.")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's default transport with the GuardedBackend under its connection pool."""

    def __init__(self, *, backend: httpcore.NetworkBackend | None = None, **kwargs):
        super().__init__(**kwargs)
        pool = self._pool
        if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpcore changed: GuardedTransport cannot install its backend")
        pool._network_backend = GuardedBackend(backend)
