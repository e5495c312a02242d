"""Fault-injection fixtures: no waiting, fault-free oracles, and the checks every fault
test ends with (history exact, rollups equal a recount, no secret stored or logged)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import pytest

from billing.rebuild import current, recount
from calls.models import Call, Recording
from messaging.models import Message
from numbers.models import PhoneNumber
from providers import connect, sync
from providers.adapters.records import Capability
from providers.adapters.retry import RetryPolicy
from providers.models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent

PROVIDERS = ("46elks", "sipcentric", "callr", "jambonz")
# Every fault kind the sandbox injects; `latency` only costs time (sleeps are off in tests).
FAULT_KINDS = ("error", "rate_limit", "timeout", "timeout_before", "drop", "malformed", "latency")
# How each provider's send endpoint is named in the sandbox (Callr: its JSON-RPC method).
SMS_ENDPOINT = {
    "46elks": "POST /a1/sms",
    "sipcentric": "POST /customers/*/sms",
    "callr": "sms.send",
    "jambonz": "POST /Accounts/*/Messages",
}
# Numbers the tenant holds at each provider (Sipcentric sends only from its own: see `our_number`).
OUR_NUMBERS = {
    "46elks": "+46766861234",
    "sipcentric": "+447911123456",
    "callr": "+33612345678",
    "jambonz": "+46766865555",
}
RECIPIENT = "+46701234567"


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    """Retries happen at once: the sync's sleep and every retry policy's delay are zero."""
    monkeypatch.setattr(sync, "sleep", lambda seconds: None)
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error=None: 0.0)


@pytest.fixture(autouse=True)
def every_log_line(caplog):
    """Capture logs at DEBUG, so the secret scans see every line any logger wrote."""
    caplog.set_level(logging.DEBUG)


def history_resources(provider: str) -> list[str]:
    """The history resources a sync of a plain (root, account-scoped) account walks."""
    from providers.adapters import RESOURCES, adapter_class

    cls = adapter_class(provider)
    resources = [r for r in RESOURCES if cls.supports(Capability(r))]
    if provider == "jambonz":  # subaccounts need a service-provider key; see test_jambonz_* below
        resources.remove("subaccounts")
    return resources


# -- oracles ------------------------------------------------------------------------------------
def listed_ids(account: ProviderAccount, resource: str) -> list[str]:
    """Remote ids a fault-free adapter lists for `resource`, from the start of history."""
    ids: list[str] = []
    cursor = None
    with connect.open_adapter(account, record=False) as adapter:
        for _ in range(10_000):
            page = adapter.list_page(resource, cursor)
            ids += [item.remote_id for item in page.items]
            cursor = page.cursor
            if page.done:
                return ids
    raise AssertionError(f"{resource} never finished paging")


def stored_ids(account: ProviderAccount, resource: str) -> list[str]:
    """Remote ids of the rows a sync of `account` stored for `resource` (duplicates kept)."""
    if resource == "subaccounts":
        rows = ProviderAccount.objects.filter(parent=account).values_list("remote_account_id", flat=True)
        return list(rows)
    model = {"messages": Message, "calls": Call, "numbers": PhoneNumber, "recordings": Recording}[resource]
    return list(model.objects.filter(provider_account=account).values_list("remote_id", flat=True))


def assert_rollups_match_a_recount(tenant) -> None:
    assert current(tenant) == {k: v for k, v in recount(tenant).items() if any(v)}


def secrets_of(account: ProviderAccount) -> list[str]:
    """The values that must never be stored or logged: passwords, API keys, webhook secrets."""
    secret_keys = ("password", "api_key", "secret", "token")
    values = [v for k, v in account.credentials.items() if any(s in k for s in secret_keys)]
    if account.webhook_secret:
        values.append(account.webhook_secret)
    assert values, f"{account.provider} account without a secret to look for"
    return values


def stored_text(account: ProviderAccount) -> str:
    """Every column of the rows an account's traffic leaves behind, as one searchable text."""
    tables: Iterable = (
        ProviderLog.objects.filter(account=account).values(),
        SyncRun.objects.filter(account=account).values(),
        WebhookEvent.objects.filter(account=account).values(),
        Message.objects.filter(provider_account=account).values("error", "raw", "raw_status"),
    )
    return json.dumps([list(rows) for rows in tables], default=str)


def assert_no_secret_leaked(account: ProviderAccount, *texts: str) -> None:
    haystack = "\n".join([stored_text(account), *texts])
    for secret in secrets_of(account):
        assert secret not in haystack, f"a secret of the {account.provider} account was stored or logged"


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def history_account(tenant_a, sandbox_account, sandbox):
    """history_account(provider) -> a sandbox account with a history of several pages."""

    def make(provider: str, *, size: int = 40) -> ProviderAccount:
        account = sandbox_account(tenant_a, provider, seed=7, size=size)
        sandbox.ledger.clear()
        return account

    return make


def our_number(account: ProviderAccount) -> str:
    if account.provider != "sipcentric":
        return OUR_NUMBERS[account.provider]
    with connect.open_adapter(account, record=False) as adapter:
        return adapter.list_numbers(None).items[0].number


@pytest.fixture
def sender(tenant_a, sandbox_account, sandbox):
    """sender(provider) -> a sandbox account of tenant A holding `account.our_number`."""

    def make(provider: str, **fields) -> ProviderAccount:
        fields.setdefault("send_rate", 0)  # no spacing between sends: it has its own tests
        account = sandbox_account(tenant_a, provider, seed=3, size=5, **fields)
        account.our_number = our_number(account)
        PhoneNumber.objects.create(
            tenant=tenant_a,
            number=account.our_number,
            provider_account=account,
            remote_id=f"held-{account.pk}",
            capabilities=["sms", "mms", "voice"],
        )
        sandbox.ledger.clear()
        return account

    return make


def new_run(account: ProviderAccount) -> SyncRun:
    return SyncRun.objects.create(
        tenant_id=account.tenant_id, account=account, trigger=SyncRun.Trigger.COMMAND
    )
