"""Billing rollups follow every insert and every re-pricing, incrementally, and always equal
a recount from the message rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from messaging.importers import apply_message_status, upsert_messages
from providers.adapters.records import Direction, MessageKind, MessageStatus, MessageStatusUpdate

from .conftest import make_account, page, recount, remote, rollup_totals

NEAR_MIDNIGHT = datetime(2025, 3, 1, 22, 50, tzinfo=UTC)  # 23:50 in Stockholm; +20 min is the next day


def _mixed_history(sub_account) -> list:
    return [
        *page(5),
        *[remote(n, created_at=NEAR_MIDNIGHT + timedelta(minutes=5 * n)) for n in range(6, 10)],
        remote(
            10, direction=Direction.INBOUND, status=MessageStatus.RECEIVED, cost=None, currency="", parts=None
        ),
        remote(11, kind=MessageKind.MMS, cost=Decimal("2.5000"), parts=None),
        remote(12, subaccount_remote_id=sub_account.remote_account_id, parts=3, cost=Decimal("1.05")),
        remote(13, status=MessageStatus.SENT, cost=None, currency=""),  # not priced yet
    ]


def test_rollups_equal_a_recount_after_sync_rerun_and_repricing(account_a, tenant_a):
    sub = make_account(tenant_a, "Sub", parent=account_a, remote_account_id="sub1")
    history = _mixed_history(sub)

    upsert_messages(account_a, history)
    assert rollup_totals(tenant_a) == recount(tenant_a)
    assert sum(count for count, _, _ in rollup_totals(tenant_a).values()) == 13

    upsert_messages(account_a, history)
    assert rollup_totals(tenant_a) == recount(tenant_a)

    repriced = [
        remote(1, cost=Decimal("0.4000"), parts=2),
        remote(6, created_at=NEAR_MIDNIGHT + timedelta(minutes=30), cost=Decimal("0.2"), currency="EUR"),
        remote(13, cost=Decimal("0.3500")),
    ]
    upsert_messages(account_a, repriced)
    assert rollup_totals(tenant_a) == recount(tenant_a)


def test_rollup_days_are_in_the_tenants_time_zone(account_a, tenant_a):
    upsert_messages(account_a, [remote(1, created_at=NEAR_MIDNIGHT + timedelta(minutes=20))])

    ((_, _, _, _, day, _),) = rollup_totals(tenant_a)
    assert day.isoformat() == "2025-03-02"


def test_rerun_leaves_rollups_unchanged(account_a, tenant_a):
    upsert_messages(account_a, page(20))
    before = rollup_totals(tenant_a)

    upsert_messages(account_a, page(20))

    assert rollup_totals(tenant_a) == before


def test_a_priced_delivery_report_moves_the_rollup(account_a, tenant_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT, cost=None, currency="")])

    update = MessageStatusUpdate(
        "s1", MessageStatus.DELIVERED, "delivered", cost=Decimal("0.35"), currency="SEK"
    )
    assert apply_message_status(account_a, update)

    assert rollup_totals(tenant_a) == recount(tenant_a)
    ((count, _, cost),) = rollup_totals(tenant_a).values()
    assert (count, cost) == (1, Decimal("0.35"))


def test_tenants_rollups_are_separate(account_a, account_b, tenant_a, tenant_b):
    upsert_messages(account_a, page(3))
    upsert_messages(account_b, page(7))

    assert sum(c for c, _, _ in rollup_totals(tenant_a).values()) == 3
    assert sum(c for c, _, _ in rollup_totals(tenant_b).values()) == 7
