"""Number rentals in the rollups: each active number with a monthly cost is charged once
per month (kind "number"), on the first day of that month in the tenant's time zone."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from accounts.models import Tenant
from numbers.models import PhoneNumber

from .models import NumberRental
from .periods import month_start
from .usage import UsageDelta, UsageKey, record_changes


def charge_number_rentals(tenant: Tenant, moment: datetime | None = None) -> int:
    """Charge this month's rentals not charged yet; returns how many were charged now.
    Safe to run any number of times (a new number is charged on the next run)."""
    period = month_start(tenant, moment)
    table, numbers = NumberRental._meta.db_table, PhoneNumber._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (tenant_id, number_id, period, cost, currency, created_at)
            SELECT tenant_id, id, %(period)s, monthly_cost, currency, now()
              FROM {numbers}
             WHERE tenant_id = %(tenant)s AND active AND monthly_cost IS NOT NULL AND currency <> ''
            ON CONFLICT (number_id, period) DO NOTHING
            RETURNING number_id
            """,  # noqa: S608 - table names are ours
            {"period": period, "tenant": tenant.pk},
        )
        charged = [row[0] for row in cursor.fetchall()]
        rows = (
            PhoneNumber.objects.for_tenant(tenant)
            .filter(pk__in=charged)
            .values("provider_account_id", "subaccount_id", "monthly_cost", "currency")
        )
        record_changes(
            UsageDelta(
                UsageKey(
                    tenant.pk,
                    r["provider_account_id"],
                    r["subaccount_id"],
                    "number",
                    "",
                    period,
                    r["currency"],
                ),
                count=1,
                cost=r["monthly_cost"],
            )
            for r in rows
        )
    return len(charged)
