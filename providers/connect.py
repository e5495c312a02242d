"""From a ProviderAccount row to a working adapter: decrypted credentials, the account's
base URL, a recorder writing ProviderLog rows, and (in tests) the sandbox transport.

Real traffic goes through netguard.GuardedTransport: a base URL checked when it was saved
may resolve to our own network later (DNS rebinding), so every new connection is checked
again and refused with netguard.NonPublicAddress (an Unavailable, request_sent=False)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from django.conf import settings

from .adapters import Adapter, Connection, build_adapter
from .adapters.http import Exchange, shared_ssl_context
from .models import ProviderAccount, ProviderLog
from .netguard import GuardedTransport, needs_guard

# Tests (and the in-process sandbox) replace the network here: account -> transport.
transport_factory: Callable[[ProviderAccount], httpx.BaseTransport | None] = lambda account: None  # noqa: E731


def connection_for(account: ProviderAccount, **option_overrides) -> Connection:
    options = {**(account.options or {}), **option_overrides}
    if account.currency:
        options.setdefault("currency", account.currency)
    return Connection(
        base_url=account.effective_base_url,
        credentials=account.credentials,
        remote_account_id=account.remote_account_id,
        # Comma-separated: the current secret, and the previous one during a rotation.
        webhook_secret=",".join(account.webhook_secrets),
        options=options,
    )


def _log_row(account: ProviderAccount, exchange: Exchange) -> ProviderLog:
    return ProviderLog(
        tenant_id=account.tenant_id,
        account=account,
        method=exchange.method,
        url=exchange.url[:2000],
        status=exchange.status,
        duration_ms=exchange.duration_ms,
        request_body=exchange.request_body,
        response_body=exchange.response_body,
        error=exchange.error[:200],
    )


def log_recorder(account: ProviderAccount) -> Callable[[Exchange], None] | None:
    if not settings.PROVIDER_LOG_ENABLED:
        return None

    def record(exchange: Exchange) -> None:
        _log_row(account, exchange).save(force_insert=True)

    return record


def transport_for(account: ProviderAccount) -> httpx.BaseTransport | None:
    """The injected test transport if any; else the guarded one, except for the sandbox (and
    DEBUG localhost), which is ours and lives on a private address by design."""
    transport = transport_factory(account)
    if transport is None and needs_guard(account.effective_base_url):
        transport = GuardedTransport(verify=shared_ssl_context())
    return transport


class BufferedLog:
    """HTTP exchanges kept until `flush` writes them (on the caller's thread and connection):
    for adapters used from another thread, like the sync's page prefetcher."""

    def __init__(self, account: ProviderAccount):
        self._account = account
        self._pending: list[Exchange] = []
        self._lock = threading.Lock()

    def append(self, exchange: Exchange) -> None:
        with self._lock:
            self._pending.append(exchange)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending and settings.PROVIDER_LOG_ENABLED:  # one INSERT for all of them
            ProviderLog.objects.bulk_create([_log_row(self._account, exchange) for exchange in pending])


def adapter_for(
    account: ProviderAccount,
    *,
    record: bool = True,
    recorder: Callable[[Exchange], None] | None = None,
    **option_overrides,
) -> Adapter:
    """`recorder` replaces the default one (ProviderLog rows written as exchanges happen)."""
    return build_adapter(
        account.provider,
        connection_for(account, **option_overrides),
        transport=transport_for(account),
        recorder=recorder or (log_recorder(account) if record else None),
        timeout=settings.PROVIDER_HTTP_TIMEOUT,
    )


@contextmanager
def open_adapter(
    account: ProviderAccount,
    *,
    record: bool = True,
    recorder: Callable[[Exchange], None] | None = None,
    **option_overrides,
) -> Iterator[Adapter]:
    adapter = adapter_for(account, record=record, recorder=recorder, **option_overrides)
    try:
        yield adapter
    finally:
        adapter.http.close()
        _remember_currency(account, adapter)


def _remember_currency(account: ProviderAccount, adapter: Adapter) -> None:
    """Keep a currency the adapter had to ask the provider for (one more request), so the
    next send through this account does not ask again."""
    learned = adapter.learned_currency
    if learned and not account.currency:
        ProviderAccount.objects.filter(pk=account.pk, currency="").update(currency=learned[:3])
        account.currency = learned[:3]
