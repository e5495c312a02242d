"""The set-based page write the importers share (messages and calls): a page is COPYed into
a temporary staging table and merged into its table with one
`INSERT … SELECT … ON CONFLICT DO UPDATE SET … WHERE <something differs>`, so

- a page costs a COPY and one statement whatever its size (no per-row parameters to adapt);
- a row whose values would not change is not written (no new tuple, no index churn, no
  `updated_at` bump), which makes a rerun over unchanged history mostly reads;
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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakSet

from django.db import connection
from django.db.backends.signals import connection_created

# Every staging table, created by each new connection; and the sessions that created them.
_STAGES: dict[str, str] = {}
_READY: WeakSet = WeakSet()

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
    maps each target column to an SQL expression over the staged row `s` (and parameters,
    `%s`, bound by `merge`'s params in order); `update` maps columns to their ON CONFLICT
    expression over `EXCLUDED` and the existing row `alias`; `joins` are extra FROM items
    after the staged rows (e.g. a LEFT JOIN LATERAL resolving our phone number)."""

    table: str
    alias: str
    stage: str
    staged: Sequence[tuple[str, str]]
    insert: Mapping[str, str]
    conflict: str
    update: Mapping[str, str]
    returning: str
    joins: str = ""
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
            FROM staged s {self.joins}
            ON CONFLICT {self.conflict} DO UPDATE SET
                {sets}{touch}
            WHERE {changed_where(self.update, self.alias)}
            RETURNING {self.returning}, ({self.alias}.xmax = 0) AS inserted"""  # noqa: S608
        # The staged rows are consumed by the merge: the table is empty again afterwards.
        staged = f"staged AS (DELETE FROM {self.stage} RETURNING *)"  # noqa: S608
        if wrap:
            return f"WITH {staged}, up AS ({merge}\n        )\n        {wrap}"
        return f"WITH {staged}\n{merge}"

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

    def merge(self, cursor: Any, params: Sequence[Any] = (), wrap: str = "") -> list[tuple]:
        cursor.execute(self.merge_sql(wrap), list(params))
        return cursor.fetchall()


def _create_stages(sender: Any, connection: Any, **kwargs: Any) -> None:
    """A new session (autocommit, before any transaction): its staging tables, once."""
    if connection.vendor != "postgresql" or not _STAGES:
        return
    with connection.cursor() as cursor:
        cursor.execute("; ".join(_STAGES.values()))
    _READY.add(connection.connection)


connection_created.connect(_create_stages, dispatch_uid="core.bulk.create_stages")
