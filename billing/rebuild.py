"""Rebuild the rollups of a tenant from the raw rows, in one transaction. The importers
keep rollups current incrementally; this is the repair tool (and the test oracle)."""

from __future__ import annotations

from django.db import connection, transaction

from accounts.models import Tenant
from calls.models import Call
from messaging.models import Message

from . import ledger
from .models import DailyUsage

RECOUNT_SQL = """
    INSERT INTO {usage} (tenant_id, provider_account_id, subaccount_id, kind, direction, day, currency,
                         count, parts, seconds, cost)
    SELECT tenant_id, provider_account_id, subaccount_id, kind, direction,
           (created_at AT TIME ZONE %(tz)s)::date AS day, COALESCE(currency, '') AS currency,
           COUNT(*), SUM(parts), SUM(seconds), SUM(cost)
      FROM (
        SELECT tenant_id, provider_account_id, subaccount_id, kind, direction, created_at, currency,
               COALESCE(parts, 0) AS parts, 0 AS seconds, COALESCE(cost, 0) AS cost
          FROM {message} WHERE tenant_id = %(tenant)s
        UNION ALL
        SELECT tenant_id, provider_account_id, subaccount_id, 'call', direction, created_at, currency,
               0, COALESCE(duration, 0), COALESCE(cost, 0)
          FROM {call} WHERE tenant_id = %(tenant)s
      ) AS raw
     GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


@transaction.atomic
def rebuild_usage(tenant: Tenant) -> int:
    """Replace the tenant's message and call rollups by a recount; returns rows written."""
    ledger.fold_all(tenant.pk)  # under the fold lock until commit: no fold runs meanwhile
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ledger.FOLD_LOCK_NAMESPACE, tenant.pk])
    DailyUsage.objects.for_tenant(tenant).filter(kind__in=["sms", "mms", "call"]).delete()
    sql = RECOUNT_SQL.format(
        usage=DailyUsage._meta.db_table, message=Message._meta.db_table, call=Call._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tz": tenant.timezone, "tenant": tenant.pk})
        return cursor.rowcount


def recount(tenant: Tenant) -> dict[tuple, tuple]:
    """The rollups as a recount from raw rows would give them, without writing (for checks)."""
    sql = RECOUNT_SQL.split("SELECT", 1)[1]
    sql = "SELECT" + sql.format(message=Message._meta.db_table, call=Call._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tz": tenant.timezone, "tenant": tenant.pk})
        return {tuple(row[:7]): tuple(row[7:]) for row in cursor.fetchall()}


def current(tenant: Tenant) -> dict[tuple, tuple]:
    rows = (
        DailyUsage.objects.for_tenant(tenant)
        .filter(kind__in=["sms", "mms", "call"])
        .values_list(
            "tenant_id",
            "provider_account_id",
            "subaccount_id",
            "kind",
            "direction",
            "day",
            "currency",
            "count",
            "parts",
            "seconds",
            "cost",
        )
    )
    return {tuple(r[:7]): tuple(r[7:]) for r in rows if any(r[7:])}
