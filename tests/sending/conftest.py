"""Sending fixtures: sandbox accounts per provider with a number the tenant holds."""

from __future__ import annotations

import pytest

from numbers.models import PhoneNumber
from providers.adapters.records import Capability

# Numbers the tenant holds at each provider (the sandbox does not check ownership; we do).
OUR_NUMBERS = {
    "46elks": "+46766861234",
    "sipcentric": "+447911123456",
    "callr": "+33612345678",
    "jambonz": "+46766865555",
}
RECIPIENT = "+46701234567"


def hold(tenant, account, number: str) -> PhoneNumber:
    return PhoneNumber.objects.create(
        tenant=tenant,
        number=number,
        provider_account=account,
        remote_id=f"n-{account.pk}-{number}",
        capabilities=["sms", "mms", "voice"],
    )


def sandbox_number(account) -> str | None:
    """The first number the sandbox twin holds (Sipcentric only sends from its own)."""
    from providers.connect import open_adapter

    with open_adapter(account, record=False) as adapter:
        if not adapter.supports(Capability.NUMBERS):
            return None
        items = adapter.list_numbers(None).items
    return items[0].number if items else None


@pytest.fixture
def account_for(tenant_a, sandbox_account, sandbox):
    """account_for("46elks", **fields) -> a sandbox account of tenant A holding a number,
    found again as `account.our_number`; the ledger starts empty."""

    def make(provider: str = "46elks", **fields):
        fields.setdefault("send_rate", 1000.0)  # spacing has its own test; keep the rest fast
        account = sandbox_account(tenant_a, provider, seed=1, size=5, **fields)
        number = (sandbox_number(account) if provider == "sipcentric" else None) or OUR_NUMBERS[provider]
        hold(tenant_a, account, number)
        account.our_number = number
        sandbox.ledger.clear()
        return account

    return make


@pytest.fixture
def elks(account_for):
    return account_for("46elks")


@pytest.fixture
def send_now():
    """send_now(message) -> runs the send task inline (retries too) and reloads the message."""
    from messaging.tasks import send_message

    def run(message):
        send_message.apply(args=[message.pk])
        message.refresh_from_db()
        return message

    return run


@pytest.fixture
def queue(tenant_a, elks):
    """queue(**overrides) -> queue_message for tenant A through `elks`, from our number."""
    from messaging.services import queue_message

    def make(**overrides):
        fields = {
            "account": elks,
            "from_number": elks.our_number,
            "to": RECIPIENT,
            "body": "Hello there",
        }
        fields.update(overrides)
        return queue_message(tenant_a, **fields)

    make.tenant = tenant_a

    return make


def sms_posts(sandbox, provider: str = "46elks") -> list:
    endpoint = {
        "46elks": "POST /a1/sms",
        "sipcentric": "POST /customers/*/sms",
        "callr": "sms.send",
        "jambonz": "POST /Accounts/*/Messages",
    }[provider]
    return sandbox.ledger.entries(provider=provider, endpoint=endpoint)


@pytest.fixture
def eager(monkeypatch):
    """Tasks enqueued after commit run inline (with transaction=True tests)."""
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)
