"""Messaging fixtures: a provider account per tenant and a RemoteMessage builder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from billing.models import DailyUsage
from messaging.models import Message
from providers.adapters.records import Direction, MessageKind, MessageStatus, RemoteMessage
from providers.models import ProviderAccount

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_account(
    tenant, name: str = "Elks", parent: ProviderAccount | None = None, **fields
) -> ProviderAccount:
    account = ProviderAccount(tenant=tenant, provider="46elks", name=name, parent=parent, **fields)
    account.set_credentials({"username": f"u-{name}", "password": "p"})
    account.save()
    return account


@pytest.fixture
def account_a(tenant_a) -> ProviderAccount:
    return make_account(tenant_a, "Elks A")


@pytest.fixture
def account_b(tenant_b) -> ProviderAccount:
    return make_account(tenant_b, "Elks B")


def remote(n: int = 1, **overrides) -> RemoteMessage:
    """An outbound delivered SMS `s<n>`, priced, created n minutes after T0."""
    fields = {
        "remote_id": f"s{n}",
        "kind": MessageKind.SMS,
        "direction": Direction.OUTBOUND,
        "from_number": "+46700000001",
        "to_number": f"+4670{n:07d}",
        "body": f"Hello {n}",
        "status": MessageStatus.DELIVERED,
        "raw_status": "delivered",
        "created_at": T0 + timedelta(minutes=n),
        "cost": Decimal("0.3500"),
        "currency": "SEK",
        "parts": 1,
        "raw": {"id": f"s{n}", "status": "delivered"},
    }
    fields.update(overrides)
    return RemoteMessage(**fields)


def page(count: int, start: int = 1, **overrides) -> list[RemoteMessage]:
    return [remote(n, **overrides) for n in range(start, start + count)]


def rollup_totals(tenant) -> dict[tuple, tuple]:
    """DailyUsage as {(account, subaccount, kind, direction, day, currency): (count, parts, cost)}."""
    rows = DailyUsage.objects.for_tenant(tenant).filter(kind__in=["sms", "mms"])
    return {
        (r.provider_account_id, r.subaccount_id, r.kind, r.direction, r.day, r.currency): (
            r.count,
            r.parts,
            r.cost,
        )
        for r in rows
        if r.count or r.parts or r.cost
    }


def recount(tenant) -> dict[tuple, tuple]:
    """The same totals computed from the message rows themselves."""
    from zoneinfo import ZoneInfo

    from django.db.models.functions import TruncDate

    rows = (
        Message.objects.for_tenant(tenant)
        .annotate(day=TruncDate("created_at", tzinfo=ZoneInfo(tenant.timezone)))
        .values("provider_account_id", "subaccount_id", "kind", "direction", "day", "currency")
        .annotate(
            n=Count("id"), parts_sum=Coalesce(Sum("parts"), 0), cost_sum=Coalesce(Sum("cost"), Decimal(0))
        )
    )
    return {
        (r["provider_account_id"], r["subaccount_id"], r["kind"], r["direction"], r["day"], r["currency"]): (
            r["n"],
            r["parts_sum"],
            r["cost_sum"],
        )
        for r in rows
    }


def ids(records: Sequence[RemoteMessage]) -> list[str]:
    return [r.remote_id for r in records]
