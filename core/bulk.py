"""The set-based page write the importers share (messages and calls): a page is COPYed into
a temporary staging table and merged into its table with one
`INSERT … SELECT … ON CONFLICT DO UPDATE SET … WHERE <something differs>`, so

- a page costs a COPY and a few statements whatever its size (no per-row parameters);
- a record equal to what we hold is pruned from the staging table before anything is
  locked (`prune`, the merge's own rule with EXCLUDED read as the staged values), and the
  merge's `WHERE` skips any other row whose values would not change: no new tuple, no
  index churn, no `updated_at` bump, so a rerun over unchanged history is mostly reads;
- the status rule is the same for every table: `rank_sql`/`rank` rank a status by a table
  the model declares, with `unknown` (and any status the table does not know) at
  `UNKNOWN_RANK`, below every known status.

The staging table is `ON COMMIT DELETE ROWS` and the merge consumes it (`DELETE … RETURNING`
feeds the `INSERT`), so it is empty between pages and after an error. Temporary tables
belong to the session: each new database connection creates them once, in autocommit
(`connection_created`), so a page pays no round trip for them. Row-level security does not
apply to a session's own temporary tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakSet

from django.db import connection
from django.db.backends.signals import connection_created

from core.db import prepared_cursor

_EXCLUDED = re.compile(r"\bexcluded\.(\w+)", re.IGNORECASE)
# Every staging table, created by each new connection; and the sessions that created them.
_STAGES: dict[str, str] = {}
_READY: WeakSet[Any] = WeakSet()

# `unknown`, and any status a rank table does not list, ranks here: below every known status.
UNKNOWN_RANK = 0


def rank(ranks: Mapping[str, int], status: object) -> int:
    return ranks.get(str(status) if status is not None else "", UNKNOWN_RANK)


def rank_sql(expr: str, ranks: Mapping[str, int]) -> str:
    """The SQL twin of `rank`: `(CASE expr WHEN 'sent' THEN 3 … ELSE 0 END)`."""
    if any(value <= UNKNOWN_RANK for key, value in ranks.items() if key != "unknown"):
        raise ValueError("known statuses must rank above UNKNOWN_RANK")
    whens = " ".join(f"WHEN '{status}' THEN {value}" for status, value in ranks.items())
    return f"(CASE {expr} {whens} ELSE {UNKNOWN_RANK} END)"


def changed_where(assignments: Mapping[str, str], alias: str) -> str:
    """`ROW(t.a, t.b) IS DISTINCT FROM ROW(<new a>, <new b>)`: true only when a value moves."""
    olds = ", ".join(f"{alias}.{column}" for column in assignments)
    news = ", ".join(assignments.values())
    return f"ROW({olds}) IS DISTINCT FROM ROW({news})"


@dataclass(frozen=True)
class StagedUpsert:
    """One table's page merge. `staged` are the (column, type) pairs COPYed per row; `insert`
    maps each target column to an SQL expression over the staged row `s` (and named
    parameters, `%(name)s`); `update` maps columns to their ON CONFLICT expression over
    `EXCLUDED` and the existing row `alias`; `match` is the condition that finds the existing
    row of a staged one (the conflict target, over `alias` and `s`; an index lookup)."""

    table: str
    alias: str
    stage: str
    staged: Sequence[tuple[str, str]]
    insert: Mapping[str, str]
    conflict: str
    update: Mapping[str, str]
    returning: str
    match: str
    key: str = "remote_id"  # the staged column that identifies a record within a page
    touch: str = "updated_at"  # set to now() on every row actually written

    @property
    def staged_columns(self) -> str:
        return ", ".join(name for name, _ in self.staged)

    def create_sql(self) -> str:
        columns = ", ".join(f"{name} {pgtype}" for name, pgtype in self.staged)
        return f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.stage} ({columns}) ON COMMIT DELETE ROWS"

    def merge_sql(self, wrap: str = "") -> str:
        """The merge; `wrap`, if given, is a query over the merge's RETURNING rows named `up`
        (e.g. to aggregate them) and becomes the statement's result."""
        targets = ", ".join(self.insert)
        exprs = ", ".join(self.insert.values())
        sets = ",\n                ".join(f"{col} = {expr}" for col, expr in self.update.items())
        touch = f",\n                {self.touch} = now()" if self.touch else ""
        merge = f"""
            INSERT INTO {self.table} AS {self.alias} ({targets})
            SELECT {exprs}
            FROM staged s
            ON CONFLICT {self.conflict} DO UPDATE SET
                {sets}{touch}
            WHERE {changed_where(self.update, self.alias)}
            RETURNING {self.returning}, ({self.alias}.xmax = 0) AS inserted"""  # noqa: S608
        # The staged rows are consumed by the merge: the table is empty again afterwards.
        staged = f"staged AS (DELETE FROM {self.stage} RETURNING *)"  # noqa: S608
        if wrap:
            return f"WITH {staged}, up AS ({merge}\n        )\n        {wrap}"
        return f"WITH {staged}\n{merge}"

    def prune_sql(self) -> str:
        """Deletes from the staging table the rows whose merge would write nothing (the row
        exists and every update expression gives back its current value: the merge's own
        rule, with EXCLUDED read as the staged values), without locking anything; returns
        (rows pruned, rows staged). A rerun over unchanged history ends here. A row changed
        by a concurrent writer after this check is left as that writer made it, as if the
        page had been written first."""
        return f"""
            WITH {self.prune_cte()}
            SELECT (SELECT count(*) FROM pruned), (SELECT count(*) FROM {self.stage})"""  # noqa: S608

    def prune_cte(self, name: str = "pruned") -> str:
        """`pruned AS (DELETE … RETURNING s.*)`, to compose into a statement of one's own."""

        def staged(match: re.Match[str]) -> str:
            return f"({self.insert[match.group(1)]})"

        unchanged = " AND ".join(
            f"{self.alias}.{col} IS NOT DISTINCT FROM {_EXCLUDED.sub(staged, expr)}"
            for col, expr in self.update.items()
        )
        # The existing row is looked up per staged row: a new account's stale statistics
        # must never turn a page into a scan of every row the account has.
        return f"""{name} AS (
                DELETE FROM {self.stage} s
                WHERE EXISTS (
                    SELECT FROM {self.table} {self.alias}
                    WHERE {self.match} AND {unchanged}
                    OFFSET 0  -- a lookup per staged row, never a join the planner may turn into a scan
                )
                RETURNING s.*
            )"""  # noqa: S608

    def prune(self, params: Mapping[str, Any]) -> int:
        """Drop the staged rows that would change nothing; returns how many rows are left."""
        (pruned, staged), *_ = fetch_prepared(self.prune_sql(), params)
        return int(staged) - int(pruned)

    def stage_rows(self, cursor: Any, rows: Iterable[Sequence[Any]]) -> None:
        """COPY the rows (tuples in `staged` order) into the staging table, binary."""
        if connection.connection not in _READY:
            # A session older than this module: create it here (a no-op once it exists; not
            # remembered, as a transaction that rolls back takes its CREATE with it).
            cursor.execute(self.create_sql())
        with cursor.copy(f"COPY {self.stage} ({self.staged_columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([pgtype for _, pgtype in self.staged])
            for row in rows:
                copy.write_row(row)

    def __post_init__(self) -> None:
        _STAGES[self.stage] = self.create_sql()

    def merge(self, cursor: Any, params: Mapping[str, Any], wrap: str = "") -> list[tuple[Any, ...]]:
        return fetch_prepared(self.merge_sql(wrap), params)


def fetch_prepared(sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
    """Run a statement of a page write as a prepared statement (core.db.prepared_cursor):
    Django's cursors bind on the client, which makes every execution a new statement to
    plan, and a merge of many CASE expressions plans in a few ms. Same connection and
    transaction as Django's, and logged and error-mapped like Django's own queries."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params if isinstance(params, Mapping) else list(params))
        return cursor.fetchall() if cursor.description else []


def _create_stages(sender: Any, connection: Any, **kwargs: Any) -> None:
    """A new session (autocommit, before any transaction): its staging tables, once."""
    if connection.vendor != "postgresql" or not _STAGES:
        return
    with connection.cursor() as cursor:
        cursor.execute("; ".join(_STAGES.values()))
    _READY.add(connection.connection)


connection_created.connect(_create_stages, dispatch_uid="core.bulk.create_stages")
