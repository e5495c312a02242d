import multiprocessing
from decimal import Decimal

import pytest
from django.db import connections

from billing import limits
from billing.models import BillingSettings, Notification, UsageCounter

pytestmark = pytest.mark.django_db


def cap(tenant, **fields) -> BillingSettings:
    return BillingSettings.objects.create(tenant=tenant, **fields)


def test_no_settings_means_no_cap(tenant_a):
    for _ in range(3):
        limits.reserve(tenant_a, subaccount=None, cost=Decimal("1"), currency="SEK")
    assert not UsageCounter.objects.exists()


def test_message_cap_blocks_the_send_over_the_cap(tenant_a):
    cap(tenant_a, monthly_message_cap=2)
    limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")
    limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")
    with pytest.raises(limits.LimitExceeded, match="2 messages"):
        limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")
    assert UsageCounter.objects.for_tenant(tenant_a).get().messages == 2


def test_spend_cap_blocks_when_the_estimate_would_cross_it(tenant_a):
    cap(tenant_a, monthly_spend_cap=Decimal("1.00"), spend_cap_currency="SEK")
    limits.reserve(tenant_a, subaccount=None, cost=Decimal("0.70"), currency="SEK")
    with pytest.raises(limits.LimitExceeded, match=r"1\.0000 SEK"):
        limits.reserve(tenant_a, subaccount=None, cost=Decimal("0.35"), currency="SEK")


def test_spend_in_another_currency_does_not_count_toward_the_cap(tenant_a):
    cap(tenant_a, monthly_spend_cap=Decimal("1.00"), spend_cap_currency="SEK")
    limits.reserve(tenant_a, subaccount=None, cost=Decimal("5"), currency="EUR")
    limits.reserve(tenant_a, subaccount=None, cost=Decimal("0.50"), currency="SEK")


def test_release_gives_the_unit_back(tenant_a):
    cap(tenant_a, monthly_message_cap=1)
    reservation = limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")
    limits.release(tenant_a, reservation)
    limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")


def test_settle_replaces_the_estimate_with_the_price(tenant_a):
    cap(tenant_a, monthly_spend_cap=Decimal("10"), spend_cap_currency="SEK")
    reservation = limits.reserve(tenant_a, subaccount=None, cost=Decimal("0.50"), currency="SEK")
    limits.settle(tenant_a, reservation, Decimal("0.35"), "SEK")
    assert UsageCounter.objects.for_tenant(tenant_a).get(currency="SEK").spent == Decimal("0.35")


def test_reservation_survives_a_round_trip_through_json(tenant_a):
    cap(tenant_a, monthly_message_cap=5)
    reservation = limits.reserve(tenant_a, subaccount=None, cost=Decimal("0.5"), currency="SEK")
    assert limits.Reservation.from_dict(reservation.to_dict()) == reservation


def test_subaccount_usage_limit_blocks_a_send(tenant_a, account_a):
    sub = account_a
    sub.usage, sub.usage_limit = Decimal("9.80"), Decimal("10")
    sub.save()
    limits.reserve(tenant_a, subaccount=sub, cost=Decimal("0.15"), currency="SEK")
    with pytest.raises(limits.LimitExceeded, match="usage limit"):
        limits.reserve(tenant_a, subaccount=sub, cost=Decimal("0.15"), currency="SEK")
    sub.refresh_from_db()
    assert sub.usage == Decimal("9.95")


def test_eighty_percent_alert_fires_once_per_period(tenant_a, owner_a, django_capture_on_commit_callbacks):
    cap(tenant_a, monthly_message_cap=5)
    for _ in range(5):
        limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")
    notes = Notification.objects.for_tenant(tenant_a).filter(kind="message_cap")
    assert sorted(notes.values_list("key", flat=True)) == ["100", "80"]


def test_a_blocked_send_raises_the_hundred_percent_alert(tenant_a):
    cap(tenant_a, monthly_message_cap=0)
    with pytest.raises(limits.LimitExceeded):
        limits.reserve(tenant_a, subaccount=None, cost=None, currency="SEK")
    assert Notification.objects.for_tenant(tenant_a).filter(kind="message_cap", key="100").count() == 1


def _reserve_in_child(tenant_id: int, queue) -> None:
    connections.close_all()  # a forked process must open its own connection
    from accounts.models import Tenant

    try:
        limits.reserve(Tenant.objects.get(pk=tenant_id), subaccount=None, cost=None, currency="SEK")
        queue.put("sent")
    except limits.LimitExceeded:
        queue.put("blocked")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_processes_at_the_limit_let_exactly_one_send_pass(tenant_a):
    cap(tenant_a, monthly_message_cap=1)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_reserve_in_child, args=(tenant_a.pk, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    outcomes = sorted(queue.get(timeout=5) for _ in procs)
    assert outcomes == ["blocked", "sent"]
    assert UsageCounter.objects.for_tenant(tenant_a).get().messages == 1
