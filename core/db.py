"""Database helpers shared by every write path."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections, models, transaction
from django.db.backends.postgresql.base import ServerBindingCursor

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Postgres SQLSTATEs that mean "run the transaction again": it did nothing.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
MAX_ATTEMPTS = 5


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_on_conflict(func: Callable[P, T]) -> Callable[P, T]:
    """Run `func` (which opens its own transaction) again when Postgres aborted it with a
    deadlock or a serialization failure, with a short jittered backoff; the last failure
    propagates. Only for outermost transactions: inside another one the retry would run
    in an aborted transaction, so there it is not attempted."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if not is_retryable(exc) or attempt == MAX_ATTEMPTS or connection.in_atomic_block:
                    raise
                logger.warning("%s: %s; retrying (attempt %d)", func.__qualname__, exc, attempt + 1)
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


def atomic_with_retry(func: Callable[P, T]) -> Callable[P, T]:
    """`transaction.atomic` around `func`, retried on deadlock / serialization failure."""
    return retry_on_conflict(transaction.atomic(func))


def delete_in_batches(queryset, batch: int = 5000) -> int:
    """Delete the rows of `queryset` `batch` at a time, each batch its own short transaction
    (retention on a big table never holds one long lock); returns how many were deleted."""
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


class _PreparedCursor(ServerBindingCursor):
    """A cursor whose statements are bound on the server and prepared: Postgres parses and
    plans a statement once per connection, and psycopg sends the values through its C
    dumpers instead of quoting each into the SQL in Python (Django's default cursor binds
    on the client: a tenth of an API send's CPU in gunicorn went to that)."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any):
        return super().execute(query, params, prepare=True, **kwargs)  # type: ignore[misc]  # psycopg's Cursor


def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Any:
    """`connection.cursor()` for the few statements every request of a hot path runs (a send,
    a delivery report), with the same wrapping (query log, execute wrappers, error mapping).
    Only for statements whose parameters Postgres can type by their place (INSERT values,
    comparisons with columns, explicit casts): a bare `%s` has no type on the server."""
    db = connections[using]
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        # Django's own wrapping of a new cursor (the stubs know neither it nor the psycopg class).
        return db._prepare_cursor(_PreparedCursor(db.connection))  # type: ignore[attr-defined,call-arg]


M = TypeVar("M", bound=models.Model)


class RowReader(Generic[M]):
    """A model's instances read with hand-written SQL, for the few per-request lookups whose
    ORM query costs more CPU to build than to run (Django compiles a queryset's SQL on every
    call: that was a third of an API send). `select` lists every concrete column, prefixed by
    `alias`, in the order `load` expects; `load` turns those values into an instance exactly
    as the ORM would (field converters such as JSON decoding, then `Model.from_db`).
    Row-level security applies as to any query."""

    def __init__(self, model: type[M], alias: str = ""):
        self.model = model
        fields = model._meta.concrete_fields
        prefix = f"{alias}." if alias else ""
        self.select = ", ".join(f'{prefix}"{f.column}"' for f in fields)
        self.table = model._meta.db_table
        self.width = len(fields)
        self._attnames = [f.attname for f in fields]
        # Fields whose database value needs converting (JSON, arrays of such, custom fields).
        self._converted = [(i, f) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]

    def load(self, values: Any, using: str = DEFAULT_DB_ALIAS) -> M:
        values = list(values)
        db = connections[using]
        for i, field in self._converted:
            values[i] = field.from_db_value(values[i], field, db)
        return self.model.from_db(using, self._attnames, values)

    def one(self, where: str, params: Any, order_by: str = "", using: str = DEFAULT_DB_ALIAS) -> M | None:
        """The row of `SELECT <columns> FROM <table> WHERE <where> [ORDER BY <order_by>] LIMIT 1`,
        or None."""
        order = f" ORDER BY {order_by}" if order_by else ""
        with prepared_cursor(using) as cursor:
            cursor.execute(f'SELECT {self.select} FROM "{self.table}" WHERE {where}{order} LIMIT 1', params)  # noqa: S608
            row = cursor.fetchone()
        return None if row is None else self.load(row, using)


def update_rows(
    model: type[models.Model], rows: list[Any], field_names: list[str], using: str = DEFAULT_DB_ALIAS
) -> int:
    """`QuerySet.bulk_update(rows, field_names)` as one `UPDATE … FROM unnest(…)` statement:
    each field's values travel as one typed array. Django's bulk_update builds a `CASE WHEN`
    expression per field and row, which cost a send worker more CPU than the sends it
    recorded. Returns the number of rows updated."""
    if not rows:
        return 0
    db = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    pk = meta.pk
    columns = [pk, *fields]
    selects = ", ".join(
        f'unnest(%s::{f.db_type(db)}[]) AS "{f.column}"' for f in columns  # type: ignore[union-attr]
    )
    assignments = ", ".join(f'"{f.column}" = v."{f.column}"' for f in fields)  # type: ignore[union-attr]
    table = meta.db_table
    sql = (
        f'UPDATE "{table}" SET {assignments} FROM (SELECT {selects}) v '  # noqa: S608 - names are ours
        f'WHERE "{table}"."{pk.column}" = v."{pk.column}"'
    )
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection=db) for row in rows]  # type: ignore[union-attr]
        for f in columns
    ]
    with prepared_cursor(using) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class RowInserter(Generic[M]):
    """`obj.save(force_insert=True)` for a new instance, without compiling the INSERT on every
    call (the statement is built once from the model's fields): each field's `pre_save`
    (auto_now and the like) and `get_db_prep_save`, as Django's own insert, and the new
    primary key from RETURNING. For plain models on hot write paths: no signals are sent,
    and a field the database computes (a generated column or a `db_default`) is refused.

    `expressions` gives some columns an SQL expression instead of the instance's value
    (e.g. the id of a row inserted by the same statement); such an inserter only builds
    statements (`sql`, `params`) and has no RETURNING."""

    def __init__(self, model: type[M], expressions: dict[str, str] | None = None):
        meta = model._meta
        self.model = model
        expressions = expressions or {}
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
        refused = [f.name for f in fields if getattr(f, "generated", False) or f.has_db_default()]
        unknown = set(expressions) - {f.attname for f in fields}
        if refused or unknown or meta.auto_field is None or meta.parents:
            raise TypeError(
                f"RowInserter cannot insert {meta.label} ({', '.join(refused + sorted(unknown))})"
            )
        self._fields = [f for f in fields if f.attname not in expressions]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        values = ", ".join(expressions.get(f.attname, "%s") for f in fields)
        self.sql = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({values})'  # noqa: S608 - names are ours
        if not expressions:
            self.sql += f' RETURNING "{meta.auto_field.column}"'
        self._expressions = bool(expressions)

    def params(self, obj: M, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
        """The values of `sql`'s placeholders for `obj` (a new instance)."""
        if obj.pk is not None:
            raise ValueError(f"{obj!r} has a primary key already: RowInserter inserts new rows only")
        db = connections[using]
        return [f.get_db_prep_save(f.pre_save(obj, True), connection=db) for f in self._fields]

    def inserted(self, obj: M, pk: Any, using: str = DEFAULT_DB_ALIAS) -> M:
        """Mark `obj` as the row just inserted with primary key `pk`."""
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using
        return obj

    def insert(self, obj: M, using: str = DEFAULT_DB_ALIAS) -> M:
        if self._expressions:
            raise TypeError("an inserter with expressions only builds statements")
        params = self.params(obj, using)
        with connections[using].cursor() as cursor:
            cursor.execute(self.sql, params)
            return self.inserted(obj, cursor.fetchone()[0], using)
