"""Alerts that a change of billing settings makes due at once: a cap set below what the
month already used, a low-balance level set above an account's latest balance. Without
this they would wait for the next send or the next hourly balance snapshot."""

from __future__ import annotations

from accounts.models import Tenant
from providers.models import ProviderAccount

from .balances import check_low_balance
from .limits import check_caps_now
from .models import BalanceSnapshot


def after_settings_change(tenant: Tenant) -> None:
    check_caps_now(tenant)
    accounts = ProviderAccount.objects.for_tenant(tenant).filter(parent__isnull=True).active()
    for account in accounts:
        latest = BalanceSnapshot.objects.for_tenant(tenant).filter(provider_account=account).first()
        if latest is not None:
            check_low_balance(account, latest)
