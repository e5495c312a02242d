"""Rebuild the rollups of a tenant from the raw rows, in one transaction. The importers
keep rollups current incrementally; this is the repair tool (and the test oracle).

Billing does not know the tables usage comes from: the apps that own them register a
`UsageSource` in their AppConfig.ready() (messages, calls)."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from accounts.models import Tenant

from . import ledger
from .models import DailyUsage


@dataclass(frozen=True)
class UsageSource:
    """Rows of `model` ("app.Model") counted as usage: SQL expressions over its columns for
    the kind, parts and seconds; the row also needs tenant_id, provider_account_id,
    subaccount_id, direction, created_at, currency and cost columns."""

    model: str
    kinds: tuple[str, ...]  # the UsageKinds its rows count as (their rollups are rebuilt)
    kind: str = "kind"
    parts: str = "0"
    seconds: str = "0"

    def select(self) -> str:
        table = apps.get_model(self.model)._meta.db_table
        # Our own expressions and table, from code: nothing user-given in the SQL text.
        return (
            f"SELECT tenant_id, provider_account_id, subaccount_id, {self.kind} AS kind, direction, "  # noqa: S608
            f"created_at, currency, {self.parts} AS parts, {self.seconds} AS seconds, "
            f"COALESCE(cost, 0) AS cost FROM {table} WHERE tenant_id = %(tenant)s"
        )


_sources: list[UsageSource] = []


def register_usage_source(source: UsageSource) -> None:
    if source not in _sources:
        _sources.append(source)


def usage_sources() -> list[UsageSource]:
    return list(_sources)


def _recount_select() -> str:
    raw = "\n        UNION ALL\n        ".join(source.select() for source in _sources)
    return f"""
    SELECT tenant_id, provider_account_id, subaccount_id, kind, direction,
           (created_at AT TIME ZONE %(tz)s)::date AS day, COALESCE(currency, '') AS currency,
           COUNT(*), SUM(parts), SUM(seconds), SUM(cost)
      FROM (
        {raw}
      ) AS raw
     GROUP BY 1, 2, 3, 4, 5, 6, 7
"""  # noqa: S608 (our tables and expressions, from code)


def _kinds() -> list[str]:
    return [kind for source in _sources for kind in source.kinds]


@transaction.atomic
def rebuild_usage(tenant: Tenant) -> int:
    """Replace the tenant's message and call rollups by a recount; returns rows written."""
    ledger.fold_all(tenant.pk)  # under the fold lock until commit: no fold runs meanwhile
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ledger.FOLD_LOCK_NAMESPACE, tenant.pk])
    DailyUsage.objects.for_tenant(tenant).filter(kind__in=_kinds()).delete()
    sql = (
        f"INSERT INTO {DailyUsage._meta.db_table} (tenant_id, provider_account_id, subaccount_id, kind, "
        "direction, day, currency, count, parts, seconds, cost)" + _recount_select()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tz": tenant.timezone, "tenant": tenant.pk})
        return cursor.rowcount


def recount(tenant: Tenant) -> dict[tuple, tuple]:
    """The rollups as a recount from raw rows would give them, without writing (for checks)."""
    with connection.cursor() as cursor:
        cursor.execute(_recount_select(), {"tz": tenant.timezone, "tenant": tenant.pk})
        return {tuple(row[:7]): tuple(row[7:]) for row in cursor.fetchall()}


def current(tenant: Tenant) -> dict[tuple, tuple]:
    rows = (
        DailyUsage.objects.for_tenant(tenant)
        .filter(kind__in=_kinds())
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
