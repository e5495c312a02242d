"""Incremental rollup maintenance. Importers and sends describe what changed as deltas
(a new row: +1 count and its cost; a re-priced row: the cost difference; a moved row: -1
on the old key and +1 on the new) and `record_changes` appends them to the usage ledger in
one statement; `billing.ledger` folds the ledger into `DailyUsage`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import date
from decimal import Decimal

from core.db import prepared_cursor

from .models import UsageEntry


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
    """Append the deltas to the usage ledger with one INSERT (merged per key, zero deltas
    dropped); returns entries written. Nothing is locked that another send needs: the
    rollups are brought up to date by `billing.ledger.fold` (beat, and before every read)."""
    statement = ledger_insert(deltas)
    if statement is None:
        return 0
    with prepared_cursor() as cursor:  # every send outcome and import page writes one
        cursor.execute(*statement)
        return cursor.rowcount


def ledger_insert(deltas: Iterable[UsageDelta]) -> tuple[str, list] | None:
    """The INSERT `record_changes` runs, as (sql, params), for a caller that makes it part of
    a bigger statement; None when the deltas add up to nothing."""
    merged: dict[UsageKey, list] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for d in deltas:
        acc = merged[d.key]
        acc[0] += d.count
        acc[1] += d.parts
        acc[2] += d.seconds
        acc[3] += d.cost
    rows = [(k, v) for k, v in merged.items() if any(v)]
    if not rows:
        return None
    if len(rows) == 1:  # a send's one entry: plain values, no arrays to build and to dump
        key, values = rows[0]
        return _INSERT_ONE_SQL, [*astuple(key), *values]
    columns = list(zip(*((*astuple(k), *v) for k, v in rows), strict=True))
    return _INSERT_SQL, [list(c) for c in columns]


_INSERT_SQL = f"""
    INSERT INTO {UsageEntry._meta.db_table} (tenant_id, provider_account_id, subaccount_id, kind,
                                             direction, day, currency, count, parts, seconds, cost)
    SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::date[],
                         %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[])
"""  # noqa: S608 - the table name is ours, values are parameters
_INSERT_ONE_SQL = f"""
    INSERT INTO {UsageEntry._meta.db_table} (tenant_id, provider_account_id, subaccount_id, kind,
                                             direction, day, currency, count, parts, seconds, cost)
    VALUES (%s::bigint, %s::bigint, %s::bigint, %s::text, %s::text, %s::date, %s::text, %s::bigint,
            %s::bigint, %s::bigint, %s::numeric)
"""  # noqa: S608 - the table name is ours, values are parameters
