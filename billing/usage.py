"""Incremental rollup maintenance. Importers and sends describe what changed as deltas
(a new row: +1 count and its cost; a re-priced row: the cost difference; a moved row: -1
on the old key and +1 on the new) and `record_changes` applies them in one statement."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection

from .models import DailyUsage


@dataclass(frozen=True)
class UsageKey:
    tenant_id: int
    provider_account_id: int
    subaccount_id: int | None
    kind: str
    direction: str
    day: date
    currency: str


@dataclass
class UsageDelta:
    key: UsageKey
    count: int = 0
    parts: int = 0
    seconds: int = 0
    cost: Decimal = Decimal(0)


def record_changes(deltas: Iterable[UsageDelta]) -> int:
    """Apply deltas with one INSERT … ON CONFLICT DO UPDATE; returns rollup rows touched."""
    merged: dict[UsageKey, list] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for d in deltas:
        acc = merged[d.key]
        acc[0] += d.count
        acc[1] += d.parts
        acc[2] += d.seconds
        acc[3] += d.cost
    rows = [(k, v) for k, v in merged.items() if any(v)]
    if not rows:
        return 0
    table = DailyUsage._meta.db_table
    values_sql = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list = []
    for k, (count, parts, seconds, cost) in sorted(rows, key=lambda r: repr(r[0])):  # stable lock order
        params += [
            k.tenant_id,
            k.provider_account_id,
            k.subaccount_id,
            k.kind,
            k.direction,
            k.day,
            k.currency,
            count,
            parts,
            seconds,
            cost,
        ]
    sql = f"""
        INSERT INTO {table} (tenant_id, provider_account_id, subaccount_id, kind, direction, day,
                             currency, count, parts, seconds, cost)
        VALUES {values_sql}
        ON CONFLICT (tenant_id, provider_account_id, subaccount_id, kind, direction, day, currency)
        DO UPDATE SET count = {table}.count + EXCLUDED.count,
                      parts = {table}.parts + EXCLUDED.parts,
                      seconds = {table}.seconds + EXCLUDED.seconds,
                      cost = {table}.cost + EXCLUDED.cost
    """  # noqa: S608 - table name is ours, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(rows)
