"""Provider message records to rows: the one write path a sync, a webhook and a send's
outcome share for `Message` and `MessageMedia`.

A page is written set-based, in a handful of statements whatever its size:
1. reconcile: our outbound sends without a remote id whose outcome was unknown, or whose
   answer never got written (`sending`), get the remote id of the synced record that
   matches them, instead of a duplicate row; their limits reservation is settled (or
   released, when the provider failed it) once, after commit;
2. lock the page's existing rows and read what the rollups counted for them;
3. one `INSERT … ON CONFLICT … DO UPDATE … RETURNING` that never moves a status
   backwards, never forgets a known cost, and writes nothing when nothing changed;
4. one `record_changes` with the rollup differences;
5. one insert of new media rows; their bytes are fetched by `messaging.tasks.fetch_media`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.files import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone

from billing.usage import UsageDelta, UsageKey, record_changes
from core.bulk import StagedUpsert, changed_where, fetch_prepared, rank, rank_sql
from core.queue import task as queue_task
from providers.adapters.errors import ProviderError
from providers.adapters.records import InboundEvent, MessageStatusUpdate, RemoteMessage
from providers.connect import open_adapter
from providers.ingest import UpsertResult, owners
from providers.models import ProviderAccount

from .models import STATUS_RANK, Message, MessageMedia, Status
from .outbox import settle_reconciled

logger = logging.getLogger(__name__)

MESSAGE_TABLE = Message._meta.db_table
MEDIA_TABLE = MessageMedia._meta.db_table
# An unknown-outcome send matches a synced record created this close to it.
RECONCILE_WINDOW_SECONDS = 600
MAX_MEDIA_BYTES = 25 * 1024 * 1024


def _other_columns(model: type[models.Model], covered: set[str]) -> tuple[str, list[str]]:
    """(", col, col", [value, …]) for the columns a raw insert does not name: their model
    defaults, so a field added later (Django defaults live in Python, not in the table)
    cannot break the importer."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in covered or (field.null and not field.has_default()):
            continue
        columns.append(field.column)
        values.append(field.get_db_prep_save(field.get_default(), connection))
    return "".join(f", {c}" for c in columns), values


def _rank_sql(expr: str) -> str:
    return rank_sql(expr, STATUS_RANK)


def _status_assignments(new: str) -> dict[str, str]:
    """SET expressions for the status columns, new values read from alias `new`: a known
    status replaces a less advanced one (or repeats itself), never the other way round."""
    advance = f"({_rank_sql(f'{new}.status')} > {_rank_sql('m.status')} OR {new}.status = m.status)"
    return {
        "status": f"CASE WHEN {advance} THEN {new}.status ELSE m.status END",
        "raw_status": f"CASE WHEN {advance} THEN {new}.raw_status ELSE m.raw_status END",
        "error": f"CASE WHEN {advance} THEN {new}.error ELSE m.error END",
        "sent_at": f"COALESCE({new}.sent_at, m.sent_at)",
        "delivered_at": f"COALESCE({new}.delivered_at, m.delivered_at)",
        # The provider's price replaces our estimate; a record without one keeps what we know.
        "cost": f"COALESCE({new}.cost, m.cost)",
        "currency": f"CASE WHEN {new}.cost IS NULL THEN m.currency ELSE {new}.currency END",
        "cost_estimated": f"CASE WHEN {new}.cost IS NULL THEN m.cost_estimated ELSE false END",
    }


def _message_assignments() -> dict[str, str]:
    advance = f"({_rank_sql('excluded.status')} > {_rank_sql('m.status')} OR excluded.status = m.status)"
    return {
        **_status_assignments("excluded"),
        "kind": "excluded.kind",
        "from_number": "COALESCE(NULLIF(excluded.from_number, ''), m.from_number)",
        "to_number": "COALESCE(NULLIF(excluded.to_number, ''), m.to_number)",
        "body": "COALESCE(NULLIF(excluded.body, ''), m.body)",
        "parts": "COALESCE(excluded.parts, m.parts)",
        "encoding": "COALESCE(NULLIF(excluded.encoding, ''), m.encoding)",
        "subaccount_id": "COALESCE(excluded.subaccount_id, m.subaccount_id)",
        "number_id": "COALESCE(m.number_id, excluded.number_id)",
        # The payload that goes with the status we keep.
        "raw": f"CASE WHEN {advance} THEN excluded.raw ELSE m.raw END",
    }


def _set_clause(assignments: dict[str, str], from_sql: str = "") -> str:
    """`SET …, updated_at = now() [FROM …] WHERE <something differs>`: an unchanged row is
    not rewritten, so a rerun leaves no dead tuples and no updated_at churn."""
    sets = ",\n            ".join(f"{col} = {expr}" for col, expr in assignments.items())
    return (
        f"{sets},\n            updated_at = now()\n        {from_sql}\n"
        f"        WHERE {changed_where(assignments, 'm')}"
    )


# Columns RETURNING gives back: what the rollups count for a row.
_COUNTED = (
    "m.id, m.remote_id, m.kind, m.direction, m.created_at, m.currency, m.cost, m.parts, m.subaccount_id"
)


@dataclass(frozen=True)
class _Counted:
    """What the rollups count for one message row."""

    id: int
    remote_id: str
    kind: str
    direction: str
    created_at: datetime
    currency: str
    cost: Decimal | None
    parts: int | None
    subaccount_id: int | None


class _Rollups:
    def __init__(self, account: ProviderAccount):
        self.tenant_id = account.tenant_id
        self.provider_account_id = account.pk
        self.tz = zoneinfo.ZoneInfo(account.tenant.timezone)
        self.deltas: list[UsageDelta] = []

    def _key(self, row: _Counted) -> UsageKey:
        day: date = timezone.localtime(row.created_at, self.tz).date()
        return UsageKey(
            self.tenant_id,
            self.provider_account_id,
            row.subaccount_id,
            row.kind,
            row.direction,
            day,
            row.currency or "",
        )

    def add(self, row: _Counted, sign: int = 1) -> None:
        parts, cost = row.parts or 0, row.cost or Decimal(0)
        self.deltas.append(UsageDelta(self._key(row), count=sign, parts=sign * parts, cost=sign * cost))

    def add_sum(self, key: UsageKey, count: int, parts: int, cost: Decimal) -> None:
        """New rows already summed per key (by the database)."""
        self.deltas.append(UsageDelta(key, count=count, parts=parts, cost=cost))

    def change(self, old: _Counted, new: _Counted) -> None:
        self.add(old, -1)  # zero deltas are dropped by record_changes
        self.add(new, +1)

    def flush(self) -> None:
        if self.deltas:
            record_changes(self.deltas)
            self.deltas = []


# -- messages ------------------------------------------------------------------------------------
def upsert_messages(account: ProviderAccount, records: Sequence[RemoteMessage]) -> UpsertResult:
    """Write one page of provider records; idempotent. `created` counts new rows, `updated`
    rows that existed (whether or not a value changed)."""
    return _upsert(account, records)[0]


def _dedupe(records: Iterable[RemoteMessage]) -> list[RemoteMessage]:
    # ON CONFLICT cannot touch one row twice in a statement: the last record of an id wins.
    by_id: dict[str, RemoteMessage] = {}
    for record in records:
        if not record.remote_id:
            logger.warning("Skipping a %s message record without a remote id", record.direction)
            continue
        by_id[record.remote_id] = record
    return [by_id[key] for key in sorted(by_id)]  # a stable lock order


def _subaccount_ids(
    provider_account: ProviderAccount, subaccount: ProviderAccount | None, records: list[RemoteMessage]
) -> dict[str, int]:
    """remote subaccount id -> our ProviderAccount id, for records a root account lists."""
    if subaccount is not None:
        return {}
    wanted = {r.subaccount_remote_id for r in records if r.subaccount_remote_id}
    if not wanted:
        return {}
    return dict(
        ProviderAccount.objects.for_tenant(provider_account.tenant_id)
        .filter(parent=provider_account, remote_account_id__in=wanted)
        .values_list("remote_account_id", "pk")
    )


def _json(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


# The staged row: one per record, COPYed in binary (no per-value parameter adaptation).
_STAGED = (
    ("remote_id", "text"),
    ("subaccount_id", "bigint"),
    ("kind", "text"),
    ("direction", "text"),
    ("from_number", "text"),
    ("to_number", "text"),
    ("body", "text"),
    ("status", "text"),
    ("raw_status", "text"),
    ("error", "text"),
    ("parts", "integer"),
    ("encoding", "text"),
    ("cost", "numeric"),
    ("currency", "text"),
    ("created_at", "timestamptz"),
    ("sent_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("raw", "text"),
)
_STAGE = "messaging_message_stage"


def _message_upsert() -> StagedUpsert:
    number_table = Message._meta.get_field("number").related_model._meta.db_table
    fixed = {
        "tenant_id": "%(tenant)s",
        "provider_account_id": "%(account)s",
        # our number: the receiving end of an inbound message, the sending end of an outbound one
        "number_id": f"""(SELECT p.id FROM {number_table} p
             WHERE p.tenant_id = %(tenant)s
               AND p.number = CASE WHEN s.direction = 'inbound' THEN s.to_number ELSE s.from_number END
             ORDER BY (p.provider_account_id = %(account)s) DESC, p.active DESC, p.id LIMIT 1)""",  # noqa: S608
        "cost_estimated": "false",
        "updated_at": "now()",
    }
    staged = {name: f"s.{name}" for name, _ in _STAGED}
    staged["raw"] = "s.raw::jsonb"
    other_columns, _ = _other_columns(Message, {*fixed, *staged})
    others = {c.strip(): f"%(default_{c.strip()})s" for c in other_columns.split(",") if c.strip()}
    return StagedUpsert(
        table=MESSAGE_TABLE,
        alias="m",
        stage=_STAGE,
        staged=_STAGED,
        insert={**fixed, **staged, **others},
        conflict="(provider_account_id, remote_id) WHERE NOT (remote_id = '')",
        update=_message_assignments(),
        returning=_COUNTED,
        match="m.provider_account_id = %(account)s AND m.remote_id = s.remote_id AND NOT (m.remote_id = '')",
    )


_UPSERT = _message_upsert()
# The columns the merge fills from the page; the others get their model defaults (params).
_FROM_PAGE = {"tenant_id", "provider_account_id", "number_id", "cost_estimated", "updated_at"} | {
    name for name, _ in _STAGED
}
# What the rollups count for the rows the merge wrote: new rows summed per rollup key (a page
# of new history is a few keys, not a hundred Python objects), changed ones row by row.
_ROLLUP_WRAP = """
        SELECT inserted, CASE WHEN inserted THEN NULL ELSE id END,
               subaccount_id, kind, direction, (created_at AT TIME ZONE %(zone)s)::date, currency,
               count(*), sum(COALESCE(parts, 0)), sum(COALESCE(cost, 0)),
               min(created_at), max(parts), max(cost)
        FROM up
        GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def _row(r: RemoteMessage, sub_id: int | None) -> tuple[Any, ...]:
    return (
        r.remote_id,
        sub_id,
        str(r.kind),
        str(r.direction),
        r.from_number,
        r.to_number,
        r.body,
        str(r.status),
        r.raw_status[:64],
        r.error,
        r.parts,
        r.encoding,
        r.cost,
        r.currency if r.cost is not None else "",
        r.created_at,
        r.sent_at,
        r.delivered_at,
        _json(r.raw),
    )


def _upsert(account: ProviderAccount, records: Sequence[RemoteMessage]) -> tuple[UpsertResult, int]:
    """(result, rows changed)."""
    page = _dedupe(records)
    if not page:
        return UpsertResult(), 0
    provider_account, subaccount = owners(account)
    sub_ids = _subaccount_ids(provider_account, subaccount, page)
    own_sub = subaccount.pk if subaccount else None
    rollups = _Rollups(provider_account)
    tenant_id = provider_account.tenant_id
    # No savepoint of our own: a failed page must fail the caller's transaction anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _UPSERT.stage_rows(cursor, (_row(r, own_sub or sub_ids.get(r.subaccount_remote_id)) for r in page))
        remote_ids = [r.remote_id for r in page]
        other_columns, defaults = _other_columns(Message, _FROM_PAGE)
        params = {
            "tenant": tenant_id,
            "account": provider_account.pk,
            "zone": rollups.tz.key,
            "ids": remote_ids,
            **{
                f"default_{c.strip()}": v for c, v in zip(other_columns.split(",")[1:], defaults, strict=True)
            },
        }
        left, reconciled, old = _prune_reconcile_and_lock(params)
        if reconciled:
            transaction.on_commit(partial(settle_reconciled, reconciled))
        if left == 0:  # every record equal to what we hold: no lock, no write, no rollup
            return UpsertResult(created=0, updated=len(page)), 0
        created = changed = 0
        for row in _UPSERT.merge(cursor, params, wrap=_ROLLUP_WRAP):
            inserted, row_id, sub_id, kind, direction, day, currency, n, parts, cost = row[:10]
            changed += n
            if inserted:
                created += n
                rollups.add_sum(UsageKey(tenant_id, provider_account.pk, sub_id, kind, direction, day,
                                         currency or ""), n, parts, cost)  # fmt: skip
                continue
            new = _Counted(row_id, "", kind, direction, row[10], currency, row[12], row[11], sub_id)
            before = old.get(row_id)
            if before is not None:
                rollups.change(before, new)
            else:  # inserted by a concurrent transaction after our lock read; it counted itself
                logger.warning("Message %s changed under a concurrent insert; rollup may drift", row_id)
        rollups.flush()
        new_media = _insert_media(cursor, provider_account, page)
    if new_media:
        transaction.on_commit(partial(_enqueue_media_fetches, new_media))
    return UpsertResult(created=created, updated=len(page) - created), changed


def _prune_reconcile_and_lock(params: dict[str, Any]) -> tuple[int, list[int], dict[int, _Counted]]:
    """One statement before the merge: (staged records left to merge, ids of our sends
    reconciled, {id: what the rollups counted} for the page's existing rows, locked).

    1. Records equal to what we hold leave the staging table (core.bulk's prune): they are
       neither locked nor written nor counted.
    2. Reconciling attaches synced remote ids (from the staged page) to our own sends
       without one (remote_id ''): `unknown` (a timeout after the request left) and
       `sending` (in flight, or the provider took it and writing its answer failed). Such a
       send may or may not exist at the provider; the sync is where we learn it did. Match
       on (to, body, created within the window), each row to at most one record and back,
       closest in time first. A reconciled row is then an existing row of the page (locked
       by its UPDATE).
    3. The other existing rows of the page are locked and read."""
    sql = f"""
        WITH {_UPSERT.prune_cte()},
        candidates AS (
            SELECT m.id, v.remote_id, abs(extract(epoch FROM m.created_at - v.created_at)) AS gap
            FROM {MESSAGE_TABLE} m
            JOIN {_STAGE} v ON v.direction = 'outbound'
                  AND m.to_number = v.to_number AND m.body = v.body
                  AND m.created_at BETWEEN v.created_at - make_interval(secs => %(window)s)
                                       AND v.created_at + make_interval(secs => %(window)s)
            WHERE m.tenant_id = %(tenant)s AND m.provider_account_id = %(account)s AND m.remote_id = ''
              AND m.direction = 'outbound' AND m.status IN ('unknown', 'sending')
              AND NOT EXISTS (SELECT 1 FROM {MESSAGE_TABLE} x
                              WHERE x.provider_account_id = %(account)s AND x.remote_id = v.remote_id
                                AND NOT (x.remote_id = ''))
        ),
        per_row AS (SELECT DISTINCT ON (id) id, remote_id, gap FROM candidates ORDER BY id, gap),
        matched AS (SELECT DISTINCT ON (remote_id) id, remote_id FROM per_row ORDER BY remote_id, gap, id),
        reconciled AS (
            UPDATE {MESSAGE_TABLE} m SET remote_id = matched.remote_id, updated_at = now()
            FROM matched WHERE m.id = matched.id AND m.remote_id = ''
            RETURNING {_COUNTED}
        ),
        locked AS (
            -- an index lookup per id (LATERAL), in id order: whatever the statistics say of
            -- a new account, never a scan of every row it has
            SELECT m.* FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS k(remote_id, n)
            CROSS JOIN LATERAL (
                SELECT {_COUNTED} FROM {MESSAGE_TABLE} m
                WHERE m.provider_account_id = %(account)s AND m.remote_id = k.remote_id
                  AND NOT (m.remote_id = '')
                FOR UPDATE
            ) m
            WHERE NOT EXISTS (SELECT 1 FROM pruned p WHERE p.remote_id = k.remote_id)
        )
        SELECT 'pruned', (SELECT count(*) FROM pruned), NULL, NULL, NULL, NULL::timestamptz, NULL,
               NULL::numeric, NULL::integer, NULL::bigint
        UNION ALL
        SELECT 'reconciled', * FROM reconciled
        UNION ALL
        SELECT 'locked', * FROM locked
    """  # noqa: S608 - table names are ours, values are parameters
    pruned, reconciled, old = 0, [], {}
    for kind, *row in fetch_prepared(sql, {**params, "window": RECONCILE_WINDOW_SECONDS}):
        if kind == "pruned":
            pruned = row[0]
            continue
        if kind == "reconciled":
            reconciled.append(row[0])
        old[row[0]] = _Counted(*row)
    return len(params["ids"]) - pruned, reconciled, old


# -- webhooks ------------------------------------------------------------------------------------
def apply_message_status(account: ProviderAccount, event: InboundEvent | MessageStatusUpdate) -> bool:
    """A delivery report. A conditional update that never moves a status backwards; False
    when the id is unknown (the webhook layer keeps the event and the next sync catches
    up) or when the report changes nothing."""
    update = event.status_update if isinstance(event, InboundEvent) else event
    if update is None or not update.remote_id:
        return False
    provider_account, _ = owners(account)
    status = str(update.status)
    occurred = update.occurred_at or timezone.now()
    new = {
        "status": status,
        "raw_status": update.raw_status[:64],
        "error": update.error,
        "sent_at": occurred if status == Status.SENT else None,
        "delivered_at": occurred if status == Status.DELIVERED else None,
        "cost": update.cost,
        "currency": update.currency if update.cost is not None else "",
    }
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {_COUNTED} FROM {MESSAGE_TABLE} m
            WHERE m.provider_account_id = %s AND m.remote_id = %s AND NOT (m.remote_id = '')
            FOR UPDATE
            """,  # noqa: S608
            [provider_account.pk, update.remote_id],
        )
        found = cursor.fetchone()
        if found is None:
            return False
        old = _Counted(*found)
        new_values = (
            "FROM (SELECT %s::text AS status, %s::text AS raw_status, %s::text AS error, "
            "%s::timestamptz AS sent_at, %s::timestamptz AS delivered_at, %s::numeric AS cost, "
            "%s::text AS currency) AS n"
        )
        cursor.execute(
            f"""
            UPDATE {MESSAGE_TABLE} m SET
                {_set_clause(_status_assignments("n"), new_values)}
                AND m.id = %s
            RETURNING {_COUNTED}
            """,  # noqa: S608
            [*new.values(), old.id],
        )
        changed = cursor.fetchone()
        if changed is None:
            return False
        rollups = _Rollups(provider_account)
        rollups.change(old, _Counted(*changed))
        rollups.flush()
    return True


def _merge_updates(updates: Iterable[MessageStatusUpdate]) -> dict[str, dict[str, Any]]:
    """One set of new values per remote id (one UPDATE cannot touch a row twice): the most
    advanced status, each timestamp from the report that carries it, the last known price."""
    merged: dict[str, dict[str, Any]] = {}
    for update in updates:
        if not update.remote_id:
            continue
        status = str(update.status)
        occurred = update.occurred_at or timezone.now()
        new = merged.setdefault(
            update.remote_id,
            {"status": status, "raw_status": "", "error": "", "sent_at": None, "delivered_at": None,
             "cost": None, "currency": ""},
        )  # fmt: skip
        if rank(STATUS_RANK, status) >= rank(STATUS_RANK, new["status"]):
            new.update(status=status, raw_status=update.raw_status[:64], error=update.error)
        if status == Status.SENT:
            new["sent_at"] = occurred
        if status == Status.DELIVERED:
            new["delivered_at"] = occurred
        if update.cost is not None:
            new.update(cost=update.cost, currency=update.currency)
    return merged


def apply_message_statuses(account: ProviderAccount, updates: Sequence[MessageStatusUpdate]) -> set[str]:
    """Delivery reports in a batch, with one statement (plus the ledger entry): the same
    rules as `apply_message_status`. Returns the remote ids whose row changed."""
    merged = _merge_updates(updates)
    if not merged:
        return set()
    provider_account, _ = owners(account)
    keys = sorted(merged)
    columns = [
        keys,
        *(
            [merged[k][name] for k in keys]
            for name in ("status", "raw_status", "error", "sent_at", "delivered_at", "cost", "currency")
        ),
    ]
    sql = f"""
        WITH n AS (
            SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                                 %s::timestamptz[], %s::numeric[], %s::text[])
                AS v(remote_id, status, raw_status, error, sent_at, delivered_at, cost, currency)
        ), old AS (
            SELECT {_COUNTED} FROM {MESSAGE_TABLE} m
            WHERE m.provider_account_id = %s AND m.remote_id = ANY(%s) AND NOT (m.remote_id = '')
            ORDER BY m.id
            FOR UPDATE
        )
        UPDATE {MESSAGE_TABLE} m SET
            {_set_clause(_status_assignments("n"), "FROM n, old")}
            AND m.id = old.id AND n.remote_id = old.remote_id
        RETURNING old.id, old.remote_id, old.kind, old.direction, old.created_at, old.currency, old.cost,
                  old.parts, old.subaccount_id, {_COUNTED}
    """  # noqa: S608 - table names are ours, values are parameters
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(sql, [*columns, provider_account.pk, keys])
        rows = cursor.fetchall()
        rollups = _Rollups(provider_account)
        for row in rows:
            rollups.change(_Counted(*row[:9]), _Counted(*row[9:]))
        rollups.flush()
    return {row[1] for row in rows}


def apply_status_events(account: ProviderAccount, events: Sequence[InboundEvent]) -> list[bool]:
    """The batch webhook handler for delivery reports: True for each event whose message changed."""
    changed = apply_message_statuses(account, [e.status_update for e in events if e.status_update])
    return [bool(e.status_update and e.status_update.remote_id in changed) for e in events]


def apply_inbound_message(account: ProviderAccount, event: InboundEvent) -> bool:
    """A received message, through the same write path as a sync (which also links it to
    our PhoneNumber when the receiving number is ours). True when a row was written."""
    if event.message is None:
        return False
    return _upsert(account, [event.message])[1] > 0


# -- media ---------------------------------------------------------------------------------------
def _insert_media(cursor: Any, provider_account: ProviderAccount, page: list[RemoteMessage]) -> list[int]:
    """MessageMedia rows for the page's media, idempotent; returns the ids of new rows."""
    items = [(r.remote_id, media) for r in page for media in r.media if media.remote_id]
    if not items:
        return []
    params: list[Any] = []
    for message_remote_id, media in items:
        params += [
            message_remote_id,
            media.remote_id,
            media.digest,
            media.size,
            media.content_type,
            _json(asdict(media)),
        ]
    values = ", ".join(["(%s, %s, %s, %s::bigint, %s, %s::jsonb)"] * len(items))
    covered = {"tenant_id", "message_id", "remote_id", "digest", "size", "content_type", "created_at", "raw"}
    other_columns, other_values = _other_columns(MessageMedia, covered)  # file, fetch_status …
    other_sql = "".join(", %s" for _ in other_values)
    cursor.execute(
        f"""
        INSERT INTO {MEDIA_TABLE} (tenant_id, message_id, remote_id, digest, size, content_type,
                                   created_at, raw{other_columns})
        SELECT m.tenant_id, m.id, v.remote_id, v.digest, v.size, v.content_type, now(), v.raw{other_sql}
        FROM (VALUES {values}) AS v(message_remote_id, remote_id, digest, size, content_type, raw)
        CROSS JOIN LATERAL (  -- an index lookup per item, whatever the statistics say
            SELECT m.id, m.tenant_id FROM {MESSAGE_TABLE} m
            WHERE m.provider_account_id = %s AND m.remote_id = v.message_remote_id
              AND NOT (m.remote_id = '')  -- lets Postgres use the partial unique index
            LIMIT 1
        ) m
        ON CONFLICT (message_id, remote_id) DO NOTHING
        RETURNING id
        """,  # noqa: S608
        [*other_values, *params, provider_account.pk],
    )
    return [row[0] for row in cursor.fetchall()]


def _enqueue_media_fetches(media_ids: list[int]) -> None:
    if len(media_ids) == 1:  # a webhook's message
        queue_task("messaging.tasks.fetch_media").delay(media_ids[0])
    else:  # a page's: one message to the broker, fanned out by the worker
        queue_task("messaging.tasks.fetch_media_batch").delay(media_ids)


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF8", "image/gif", ".gif"),
    (b"%PDF", "application/pdf", ".pdf"),
)
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def _sniff(head: bytes, declared: str) -> tuple[str, str]:
    """(content type, file extension): what the provider said, else what the bytes say."""
    for magic, content_type, ext in _MAGIC:
        if head.startswith(magic):
            return declared or content_type, _EXTENSIONS.get(declared, ext)
    return declared or "application/octet-stream", _EXTENSIONS.get(declared, ".bin")


def fetch_media_file(media_id: int) -> str:
    """Copy one media item's bytes into storage; returns the resulting fetch status.

    Retryable provider errors propagate (the task retries them); permanent ones mark the
    row failed. Safe to run twice: a fetched row is left alone."""
    # cross-tenant: a task addresses the row by id; the row carries its tenant.
    media = (
        MessageMedia.objects.select_related("message__provider_account", "message__subaccount")
        .filter(pk=media_id)
        .first()
    )
    if media is None:
        return "missing"
    if media.fetch_status == MessageMedia.FetchStatus.FETCHED:
        return media.fetch_status
    # A subaccount's media is reached with the subaccount's own credentials.
    account = media.message.subaccount or media.message.provider_account
    MessageMedia.objects.filter(pk=media.pk).update(fetch_attempts=F("fetch_attempts") + 1)
    digest = hashlib.sha256()
    size = 0
    head = b""
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as tmp:
        try:
            with open_adapter(account) as adapter:
                for chunk in adapter.download_media(media.remote_id):
                    size += len(chunk)
                    if size > MAX_MEDIA_BYTES:
                        return mark_media_failed(media.pk, f"Larger than {MAX_MEDIA_BYTES} bytes.")
                    if len(head) < 16:
                        head += chunk[:16]
                    digest.update(chunk)
                    tmp.write(chunk)
        except ProviderError as exc:
            if exc.retryable:
                raise
            return mark_media_failed(media.pk, exc.message)
        content_type, ext = _sniff(head, media.content_type)
        tmp.seek(0)
        safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", media.remote_id)[:80]
        media.file.save(f"{media.pk}-{safe_id}{ext}", File(tmp), save=False)
    MessageMedia.objects.filter(pk=media.pk).update(
        file=media.file.name,
        digest=digest.hexdigest(),
        size=size,
        content_type=content_type,
        fetch_status=MessageMedia.FetchStatus.FETCHED,
        fetch_error="",
        fetched_at=timezone.now(),
    )
    return MessageMedia.FetchStatus.FETCHED


def mark_media_failed(media_id: int, error: str) -> str:
    MessageMedia.objects.filter(pk=media_id).exclude(fetch_status=MessageMedia.FetchStatus.FETCHED).update(
        fetch_status=MessageMedia.FetchStatus.FAILED, fetch_error=error[:2000]
    )
    return MessageMedia.FetchStatus.FAILED
