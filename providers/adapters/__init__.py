"""Provider adapters: a registry keyed by provider code (`46elks`, `sipcentric`, `callr`,
`jambonz`). Adding a provider is one module plus one line here."""

from __future__ import annotations

from importlib import import_module

from .base import RESOURCES, Adapter, Connection
from .errors import (
    AuthFailed,
    NotSupported,
    ProviderError,
    RateLimited,
    Rejected,
    Unavailable,
    WebhookRejected,
)
from .http import ProviderHttp

ADAPTER_PATHS = {
    "46elks": "providers.adapters.elks46.Elks46Adapter",
    "sipcentric": "providers.adapters.sipcentric.SipcentricAdapter",
    "callr": "providers.adapters.callr.CallrAdapter",
    "jambonz": "providers.adapters.jambonz.JambonzAdapter",
}
_cache: dict[str, type[Adapter]] = {}


def adapter_class(code: str) -> type[Adapter]:
    if code not in _cache:
        try:
            module_path, name = ADAPTER_PATHS[code].rsplit(".", 1)
        except KeyError:
            raise NotSupported(f"Unknown provider {code!r}.") from None
        cls = getattr(import_module(module_path), name)
        assert cls.code == code, f"{cls} declares code {cls.code!r}, registered as {code!r}"
        _cache[code] = cls
    return _cache[code]


def build_adapter(
    code: str, connection: Connection, *, transport=None, recorder=None, timeout: float = 20.0
) -> Adapter:
    cls = adapter_class(code)
    http = ProviderHttp(
        connection.base_url or cls.default_base_url,
        auth=cls.http_auth(connection),
        headers=cls.http_headers(connection),
        timeout=timeout,
        transport=transport,
        recorder=recorder,
    )
    return cls(connection, http)


__all__ = [
    "ADAPTER_PATHS",
    "RESOURCES",
    "Adapter",
    "AuthFailed",
    "Connection",
    "NotSupported",
    "ProviderError",
    "ProviderHttp",
    "RateLimited",
    "Rejected",
    "Unavailable",
    "WebhookRejected",
    "adapter_class",
    "build_adapter",
]
