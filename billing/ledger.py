"""Folding the usage ledger into the daily rollups.

Why a ledger: every send, delivery report and imported page changes a tenant's rollups, and
a rollup row (tenant, account, kind, direction, day, currency) is shared by every send of
that tenant that day. Updating it in each of those transactions made concurrent sends queue
on one row lock and deadlock on their lock order. So they only append `UsageEntry` rows
(an INSERT locks nothing another send needs), and `fold` moves a tenant's entries into
`DailyUsage` with one statement: DELETE … RETURNING, grouped, upserted in a stable order.

Folds of one tenant are serialised by a transaction-level advisory lock (two folds never
race for the same rollup rows, so they cannot deadlock); folds of different tenants touch
different rows. An entry is deleted in the same transaction that adds it to the rollup,
so it is counted exactly once, whichever process folds it.

This module names the tables rather than importing the models, so `billing.models` can
call it (reads fold first) without an import cycle.
"""

from __future__ import annotations

from django.db import connection, transaction

LEDGER_TABLE = "billing_usageentry"
ROLLUP_TABLE = "billing_dailyusage"
# pg_advisory_xact_lock(namespace, tenant_id): the namespace keeps clear of other locks.
FOLD_LOCK_NAMESPACE = 4_710_001
FOLD_BATCH = 50_000

_FOLD_SQL = f"""
    WITH moved AS (
        DELETE FROM {LEDGER_TABLE}
         WHERE id IN (SELECT id FROM {LEDGER_TABLE} WHERE tenant_id = %(tenant)s ORDER BY id LIMIT %(batch)s)
        RETURNING tenant_id, provider_account_id, subaccount_id, kind, direction, day, currency,
                  count, parts, seconds, cost
    ), grouped AS (
        SELECT tenant_id, provider_account_id, subaccount_id, kind, direction, day, currency,
               SUM(count) AS count, SUM(parts) AS parts, SUM(seconds) AS seconds, SUM(cost) AS cost
          FROM moved
         GROUP BY 1, 2, 3, 4, 5, 6, 7
    )
    INSERT INTO {ROLLUP_TABLE} AS u (tenant_id, provider_account_id, subaccount_id, kind, direction,
                                     day, currency, count, parts, seconds, cost)
    SELECT * FROM grouped
     WHERE count <> 0 OR parts <> 0 OR seconds <> 0 OR cost <> 0
     ORDER BY provider_account_id, subaccount_id NULLS FIRST, kind, direction, day, currency
    ON CONFLICT (tenant_id, provider_account_id, subaccount_id, kind, direction, day, currency)
    DO UPDATE SET count = u.count + EXCLUDED.count,
                  parts = u.parts + EXCLUDED.parts,
                  seconds = u.seconds + EXCLUDED.seconds,
                  cost = u.cost + EXCLUDED.cost
"""  # noqa: S608 - table names are ours, values are parameters


def fold(tenant_id: int, batch: int = FOLD_BATCH) -> int:
    """Fold up to `batch` of the tenant's oldest ledger entries; returns rollup rows touched.
    Cheap when there is nothing to fold (an index probe)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {LEDGER_TABLE} WHERE tenant_id = %s)",  # noqa: S608
            [tenant_id],
        )
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [FOLD_LOCK_NAMESPACE, tenant_id])
        cursor.execute(_FOLD_SQL, {"tenant": tenant_id, "batch": batch})
        return cursor.rowcount


def fold_all(tenant_id: int) -> int:
    """Fold every pending entry of the tenant (in batches)."""
    touched = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {LEDGER_TABLE} WHERE tenant_id = %s LIMIT %s) t",  # noqa: S608
                [tenant_id, FOLD_BATCH],
            )
            pending = cursor.fetchone()[0]
        if not pending:
            return touched
        touched += fold(tenant_id)
        if pending < FOLD_BATCH:
            return touched


def tenants_with_entries(limit: int = 1000) -> list[int]:
    # cross-tenant: the beat folder finds every tenant with unfolded entries.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE t AS (
                (SELECT tenant_id FROM {LEDGER_TABLE} ORDER BY tenant_id LIMIT 1)
                UNION ALL
                SELECT (SELECT tenant_id FROM {LEDGER_TABLE} WHERE tenant_id > t.tenant_id
                         ORDER BY tenant_id LIMIT 1) FROM t WHERE t.tenant_id IS NOT NULL
            )
            SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL LIMIT %s
            """,  # noqa: S608 - a loose index scan over (tenant_id, id)
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]


def pending_entries() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {LEDGER_TABLE}")  # noqa: S608
        return cursor.fetchone()[0]
