"""Call usage rollups are kept incrementally and always equal a recount of the calls."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from billing.models import DailyUsage
from calls.importers import apply_call_status, upsert_calls
from calls.models import Call
from providers.adapters.records import CallState, Direction, EventType, InboundEvent

from .factories import call


def rollup(tenant) -> dict:
    return {
        (u.provider_account_id, u.subaccount_id, u.direction, u.day, u.currency): (u.count, u.seconds, u.cost)
        for u in DailyUsage.objects.for_tenant(tenant).filter(kind="call")
        if u.count or u.seconds or u.cost
    }


def recount(tenant) -> dict:
    import zoneinfo

    zone = zoneinfo.ZoneInfo(tenant.timezone)
    totals: dict = defaultdict(lambda: [0, 0, Decimal(0)])
    for c in Call.objects.for_tenant(tenant):
        key = (
            c.provider_account_id,
            c.subaccount_id,
            c.direction,
            c.created_at.astimezone(zone).date(),
            c.currency,
        )
        totals[key][0] += 1
        totals[key][1] += c.duration or 0
        totals[key][2] += c.cost or Decimal(0)
    return {k: tuple(v) for k, v in totals.items()}


def test_rollups_equal_a_recount_after_imports_and_changes(account_a):
    tenant = account_a.tenant
    upsert_calls(account_a, [call(i, CallState.RINGING) for i in range(6)])
    upsert_calls(account_a, [call(i) for i in range(3)])  # answered and priced
    upsert_calls(account_a, [call(i, direction=Direction.INBOUND) for i in range(6, 9)])
    upsert_calls(account_a, [call(0, duration=75, cost=Decimal("1.5000"))])  # re-priced
    upsert_calls(account_a, [call(i) for i in range(9)])  # rerun

    assert rollup(tenant) == recount(tenant)
    assert sum(count for count, _, _ in rollup(tenant).values()) == 9


def test_rerun_leaves_rollups_unchanged(account_a):
    upsert_calls(account_a, [call(i) for i in range(5)])
    before = rollup(account_a.tenant)

    upsert_calls(account_a, [call(i) for i in range(5)])

    assert rollup(account_a.tenant) == before


def test_rollup_day_is_the_calls_day_in_the_tenants_time_zone(account_a):
    # 23:30 UTC on 1 March is 00:30 on 2 March in Stockholm.
    upsert_calls(account_a, [call(1, created_at=datetime(2024, 3, 1, 23, 30, tzinfo=UTC))])

    (key,) = rollup(account_a.tenant)
    assert key[3] == date(2024, 3, 2)


def test_cost_arriving_later_moves_the_call_from_unpriced_to_its_currency(account_a):
    upsert_calls(account_a, [call(1, cost=None, currency="")])

    upsert_calls(account_a, [call(1)])

    assert rollup(account_a.tenant) == {
        (account_a.pk, None, "outbound", date(2024, 3, 1), "SEK"): (1, 60, Decimal("1.2500"))
    }


def test_webhooks_and_syncs_share_the_rollup(account_a):
    apply_call_status(account_a, InboundEvent(EventType.CALL_STATUS, None, call=call(1, CallState.RINGING)))
    apply_call_status(account_a, InboundEvent(EventType.CALL_STATUS, None, call=call(1)))
    upsert_calls(account_a, [call(1), call(2)])

    assert rollup(account_a.tenant) == recount(account_a.tenant)
    assert sum(count for count, _, _ in rollup(account_a.tenant).values()) == 2
