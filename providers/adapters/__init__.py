"""Provider adapters: one per provider, pure Python + httpx (no Django). Which adapter
serves which provider code is said once, in `registry`."""

from __future__ import annotations

import httpx

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
from .http import ProviderHttp, Recorder
from .registry import adapter_class


def build_adapter(
    code: str,
    connection: Connection,
    *,
    transport: httpx.BaseTransport | None = None,
    recorder: Recorder | None = None,
    timeout: float = 20.0,
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
