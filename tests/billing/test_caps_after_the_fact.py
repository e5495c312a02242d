"""Caps and alert levels set after the month already used something: they count what was
used before them, and their alerts fire when they are saved, not at the next send."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing import checks, limits
from billing.models import BalanceSnapshot, BillingSettings, Notification
from billing.periods import local_date
from billing.usage import UsageDelta, UsageKey, record_changes

pytestmark = pytest.mark.django_db


def spent(account, cost: str, count: int = 1) -> None:
    day = local_date(account.tenant)
    key = UsageKey(account.tenant_id, account.pk, None, "sms", "outbound", day, "SEK")
    record_changes([UsageDelta(key, count=count, parts=count, cost=Decimal(cost))])


def test_a_spend_cap_set_below_the_months_spend_blocks_the_next_send(account_a):
    spent(account_a, "42.00")
    BillingSettings.objects.create(
        tenant=account_a.tenant, monthly_spend_cap=Decimal("10"), spend_cap_currency="SEK"
    )

    with pytest.raises(limits.LimitExceeded):
        limits.reserve(account_a.tenant, subaccount=None, cost=Decimal("0.35"), currency="SEK")


def test_a_message_cap_counts_the_messages_sent_before_it(account_a):
    spent(account_a, "1.00", count=5)
    BillingSettings.objects.create(tenant=account_a.tenant, monthly_message_cap=6)

    limits.reserve(account_a.tenant, subaccount=None, cost=None, currency="SEK")
    with pytest.raises(limits.LimitExceeded):
        limits.reserve(account_a.tenant, subaccount=None, cost=None, currency="SEK")


def test_saving_a_cap_already_exceeded_alerts_at_once(account_a):
    spent(account_a, "42.00")
    BillingSettings.objects.create(
        tenant=account_a.tenant, monthly_spend_cap=Decimal("10"), spend_cap_currency="SEK"
    )

    checks.after_settings_change(account_a.tenant)

    kinds = set(Notification.objects.for_tenant(account_a.tenant).values_list("kind", "key"))
    assert kinds == {("spend_cap", "80"), ("spend_cap", "100")}


def test_saving_a_low_balance_level_above_the_balance_alerts_at_once(account_a):
    BalanceSnapshot.objects.create(
        tenant=account_a.tenant, provider_account=account_a, amount=Decimal("5"), currency="SEK",
        taken_at=timezone.now(),
    )  # fmt: skip
    BillingSettings.objects.create(tenant=account_a.tenant, low_balance_threshold=Decimal("100"))

    checks.after_settings_change(account_a.tenant)

    assert Notification.objects.for_tenant(account_a.tenant).filter(kind="low_balance").exists()


def test_settings_within_limits_raise_no_alert(account_a):
    spent(account_a, "1.00")
    BillingSettings.objects.create(
        tenant=account_a.tenant, monthly_spend_cap=Decimal("100"), spend_cap_currency="SEK"
    )

    checks.after_settings_change(account_a.tenant)

    assert not Notification.objects.for_tenant(account_a.tenant).exists()


def test_the_api_alerts_when_a_cap_below_the_months_spend_is_saved(account_a, api_a):
    spent(account_a, "42.00")

    response = api_a.patch(
        "/api/v1/billing-settings/current/",
        {"monthly_spend_cap": "10", "spend_cap_currency": "SEK"},
        format="json",
        HTTP_X_TENANT=account_a.tenant.slug,
    )

    assert response.status_code == 200, response.content
    assert Notification.objects.for_tenant(account_a.tenant).filter(kind="spend_cap", key="100").exists()
