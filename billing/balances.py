"""Balance snapshots from each provider's balance call, and a days-of-credit forecast."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from providers.adapters.records import Capability
from providers.connect import open_adapter
from providers.models import ProviderAccount

from . import alerts
from .models import BalanceSnapshot, BillingSettings, DailyUsage
from .periods import local_date

BURN_WINDOW_DAYS = 7


def take_snapshot(account: ProviderAccount) -> BalanceSnapshot | None:
    """Ask the provider for the balance, store it, and fire low-balance alerts."""
    if not account.can(Capability.BALANCE):
        return None
    with open_adapter(account) as adapter:
        balance = adapter.get_balance()
    snapshot = BalanceSnapshot.objects.create(
        tenant_id=account.tenant_id,
        provider_account=account,
        amount=balance.amount,
        currency=balance.currency,
        credit_alert=balance.credit_alert,
        taken_at=timezone.now(),
        raw=balance.raw,
    )
    check_low_balance(account, snapshot)
    return snapshot


def check_low_balance(account: ProviderAccount, snapshot: BalanceSnapshot) -> None:
    tenant = account.tenant
    day = local_date(tenant).isoformat()
    billing = BillingSettings.objects.filter(tenant=tenant).first()
    threshold = billing.low_balance_threshold if billing else None
    if threshold is not None and snapshot.amount < threshold:
        alerts.notify(
            tenant,
            "low_balance",
            f"account:{account.pk}",
            day,
            title=f"Low balance on {account.name}",
            body=f"{snapshot.amount} {snapshot.currency} left (alert level {threshold}).",
        )
    if snapshot.credit_alert is not None and snapshot.amount <= snapshot.credit_alert:
        # The provider's own credit alert level (AccountBalance.credit_alert), where it has one.
        alerts.notify(
            tenant,
            "credit_alert",
            f"account:{account.pk}",
            day,
            title=f"{account.name} is below its provider credit alert level",
            body=f"{snapshot.amount} {snapshot.currency} left; the provider's alert level is "
            f"{snapshot.credit_alert}.",
        )


def daily_burn(account: ProviderAccount, currency: str, days: int = BURN_WINDOW_DAYS) -> Decimal:
    """Average spend per day over the last `days` days, from the rollups."""
    today = local_date(account.tenant)
    total = (
        DailyUsage.objects.for_tenant(account.tenant_id)
        .filter(
            provider_account=account, currency=currency, day__gt=today - timedelta(days=days), day__lte=today
        )
        .aggregate(total=Sum("cost"))["total"]
    )
    return (total or Decimal(0)) / days


def forecast_days_left(account: ProviderAccount) -> Decimal | None:
    """Days of credit left at the recent burn rate; None without a balance or any burn."""
    latest = BalanceSnapshot.objects.for_tenant(account.tenant_id).filter(provider_account=account).first()
    if latest is None:
        return None
    burn = daily_burn(account, latest.currency)
    if burn <= 0:
        return None
    return (latest.amount / burn).quantize(Decimal("0.1"))
