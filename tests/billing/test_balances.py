from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.balances import forecast_days_left, take_snapshot
from billing.models import BalanceSnapshot, BillingSettings, Notification
from billing.periods import local_date
from billing.usage import UsageDelta, UsageKey, record_changes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("provider", ["46elks", "sipcentric", "callr"])
def test_snapshot_reads_the_providers_balance(tenant_a, sandbox_account, provider):
    account = sandbox_account(tenant_a, provider)
    snapshot = take_snapshot(account)
    assert snapshot.amount > 0
    assert len(snapshot.currency) == 3
    assert BalanceSnapshot.objects.for_tenant(tenant_a).count() == 1


def test_jambonz_has_no_balance_so_no_snapshot(tenant_a, sandbox_account):
    assert take_snapshot(sandbox_account(tenant_a, "jambonz")) is None


def test_low_balance_alert_fires_once_a_day(tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    BillingSettings.objects.create(tenant=tenant_a, low_balance_threshold=Decimal("1000000"))
    take_snapshot(account)
    take_snapshot(account)
    assert Notification.objects.for_tenant(tenant_a).filter(kind="low_balance").count() == 1


def test_forecast_divides_the_balance_by_the_recent_burn(tenant_a, account_a):
    BalanceSnapshot.objects.create(
        tenant=tenant_a,
        provider_account=account_a,
        amount=Decimal("70"),
        currency="SEK",
        taken_at=timezone.now(),
    )
    today = local_date(tenant_a)
    for days_ago in range(7):
        key = UsageKey(
            tenant_a.pk, account_a.pk, None, "sms", "outbound", today - timedelta(days=days_ago), "SEK"
        )
        record_changes([UsageDelta(key, count=1, cost=Decimal("2"))])
    assert forecast_days_left(account_a) == Decimal("35.0")


def test_no_forecast_without_any_spend(tenant_a, account_a):
    BalanceSnapshot.objects.create(
        tenant=tenant_a,
        provider_account=account_a,
        amount=Decimal("70"),
        currency="SEK",
        taken_at=timezone.now(),
    )
    assert forecast_days_left(account_a) is None
