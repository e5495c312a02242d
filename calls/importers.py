"""Provider call and recording records to rows. A sync page and a status webhook both go
through `upsert_calls`: our own calls whose remote id we never learned are reconciled with
the page first (so they are not stored twice), then one INSERT … ON CONFLICT per page that
merges in SQL (state only moves forward, a known cost is never lost, our number is linked),
legs replaced set-based, and the billing rollup adjusted by the difference in the same
transaction."""

from __future__ import annotations

import json
import mimetypes
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection, transaction

from billing.models import UsageKind
from billing.usage import UsageDelta, UsageKey, record_changes
from core.bulk import StagedUpsert, rank, rank_sql
from core.queue import task as queue_task
from numbers.models import PhoneNumber
from providers.adapters.records import InboundEvent, RemoteCall, RemoteRecording
from providers.ingest import UpsertResult, lock_account, owner_ids, scrub, to_json
from providers.models import ProviderAccount

from .models import FINAL_RANK, STATE_RANK, Call, CallLeg, CallState, Recording

CALLS = Call._meta.db_table
LEGS = CallLeg._meta.db_table
RECORDINGS = Recording._meta.db_table
NUMBERS = PhoneNumber._meta.db_table
LOCK_NAMESPACE = 0x63616C6C  # "call": calls of one account are written by one transaction at a time
# A call of ours without a remote id matches a provider record created this close to it.
RECONCILE_WINDOW_SECONDS = 600
# Our calls without a remote id that may exist at the provider: the outcome was hidden
# (`unknown`), the request is in flight or its answer was not written (`placing`), or it was
# accepted without an id (`requested`, e.g. click-to-dial).
UNRESOLVED = (CallState.UNKNOWN, CallState.PLACING, CallState.REQUESTED)


def _rank(expr: str) -> str:
    return rank_sql(expr, STATE_RANK)


NEW, OLD = _rank("EXCLUDED.state"), _rank("c.state")
# The report moves the call on (or re-states a non-final state): take its state.
ADVANCES = f"({NEW} > {OLD} OR ({NEW} = {OLD} AND {OLD} < {FINAL_RANK}))"
# The report is not older than what we hold: its known values win, otherwise they only fill gaps.
CURRENT = f"({NEW} >= {OLD})"


def _merge(column: str) -> str:
    return (
        f"CASE WHEN {CURRENT} THEN COALESCE(EXCLUDED.{column}, c.{column}) "
        f"ELSE COALESCE(c.{column}, EXCLUDED.{column}) END"
    )


# The provider's cost replaces our estimate and a newer known cost; NULL never erases one.
TAKE_COST = f"(EXCLUDED.cost IS NOT NULL AND (c.cost IS NULL OR c.cost_estimated OR {CURRENT}))"

# The staged row, one per record (COPYed in binary), and the merge (core.bulk: a row whose
# values would not change is not written).
STAGED = (
    ("subaccount_id", "bigint"),
    ("remote_id", "text"),
    ("direction", "text"),
    ("from_number", "text"),
    ("to_number", "text"),
    ("state", "text"),
    ("raw_state", "text"),
    ("created_at", "timestamptz"),
    ("answered_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("duration", "integer"),
    ("cost", "numeric"),
    ("currency", "text"),
    ("actions", "text"),
    ("raw", "text"),
    ("has_legs", "boolean"),
)
STAGE = "calls_call_stage"
UPSERT = StagedUpsert(
    table=CALLS,
    alias="c",
    stage=STAGE,
    staged=STAGED,
    insert={
        "tenant_id": "%(tenant)s",
        "provider_account_id": "%(account)s",
        "subaccount_id": "s.subaccount_id",
        # our number: the receiving end of an inbound call, the calling end of an outbound one
        "number_id": f"""(SELECT p.id FROM {NUMBERS} p
            WHERE p.tenant_id = %(tenant)s AND p.provider_account_id = %(account)s
              AND p.number = CASE WHEN s.direction = 'inbound' THEN s.to_number ELSE s.from_number END
            ORDER BY p.active DESC, p.id
            LIMIT 1)""",  # noqa: S608
        "remote_id": "s.remote_id",
        "idempotency_key": "NULL",
        "direction": "s.direction",
        "from_number": "s.from_number",
        "to_number": "s.to_number",
        "state": "s.state",
        "raw_state": "s.raw_state",
        "created_at": "s.created_at",
        "answered_at": "s.answered_at",
        "ended_at": "s.ended_at",
        "duration": "s.duration",
        "cost": "s.cost",
        "currency": "s.currency",
        "cost_estimated": "false",
        "actions": "s.actions::jsonb",
        "send_attempts": "0",
        "last_attempt_at": "NULL",
        "request_hash": "''",
        "error": "''",
        "raw": "s.raw::jsonb",
        "updated_at": "now()",
    },
    conflict="(provider_account_id, remote_id) WHERE NOT (remote_id = '')",
    update={
        "subaccount_id": "COALESCE(EXCLUDED.subaccount_id, c.subaccount_id)",
        "number_id": "COALESCE(EXCLUDED.number_id, c.number_id)",
        "from_number": "COALESCE(NULLIF(EXCLUDED.from_number, ''), c.from_number)",
        "to_number": "COALESCE(NULLIF(EXCLUDED.to_number, ''), c.to_number)",
        "state": f"CASE WHEN {ADVANCES} THEN EXCLUDED.state ELSE c.state END",
        "raw_state": f"CASE WHEN {ADVANCES} THEN EXCLUDED.raw_state ELSE c.raw_state END",
        "created_at": "LEAST(c.created_at, EXCLUDED.created_at)",
        "answered_at": _merge("answered_at"),
        "ended_at": _merge("ended_at"),
        "duration": _merge("duration"),
        "cost": f"CASE WHEN {TAKE_COST} THEN EXCLUDED.cost ELSE c.cost END",
        "currency": f"CASE WHEN {TAKE_COST} THEN EXCLUDED.currency ELSE c.currency END",
        "cost_estimated": f"CASE WHEN {TAKE_COST} THEN false ELSE c.cost_estimated END",
        "actions": f"""CASE WHEN EXCLUDED.actions = '[]'::jsonb THEN c.actions
                       WHEN c.actions = '[]'::jsonb OR {CURRENT} THEN EXCLUDED.actions
                       ELSE c.actions END""",
        "raw": f"CASE WHEN {CURRENT} THEN c.raw || EXCLUDED.raw ELSE EXCLUDED.raw || c.raw END",
    },
    returning="c.id, c.remote_id, c.direction, c.subaccount_id, c.created_at, c.duration, c.cost, "
    "c.currency, c.state, c.raw_state, c.ended_at, c.number_id",
    # a record with legs is not pruned: its legs are compared (and replaced) after the merge
    match="c.provider_account_id = %(account)s AND c.remote_id = s.remote_id AND NOT (c.remote_id = '')"
    " AND NOT s.has_legs",
)

# What the rollup and the "changed" answer depend on, in RETURNING order from direction on.
ROW_FIELDS = (
    "direction",
    "subaccount_id",
    "created_at",
    "duration",
    "cost",
    "currency",
    "state",
    "raw_state",
    "ended_at",
    "number_id",
)


@dataclass
class CallWrite:
    result: UpsertResult
    changed: int  # rows inserted or whose stored values moved
    call_ids: dict[str, int]  # remote_id -> id


def _usage(
    tenant_id: int, root_id: int, zone: zoneinfo.ZoneInfo, row: dict[str, Any], sign: int
) -> UsageDelta:
    key = UsageKey(
        tenant_id=tenant_id,
        provider_account_id=root_id,
        subaccount_id=row["subaccount_id"],
        kind=UsageKind.CALL,
        direction=row["direction"],
        day=row["created_at"].astimezone(zone).date(),
        currency=row["currency"] or "",
    )
    return UsageDelta(
        key, count=sign, seconds=sign * (row["duration"] or 0), cost=sign * (row["cost"] or Decimal(0))
    )


def _latest(records: Sequence[RemoteCall]) -> list[RemoteCall]:
    """One record per remote id (ON CONFLICT cannot touch a row twice): the most advanced,
    the later one on a tie."""
    best: dict[str, RemoteCall] = {}
    for record in records:
        if not record.remote_id:
            continue  # nothing to match on; a queued call is the sending service's row
        held = best.get(record.remote_id)
        if held is None or rank(STATE_RANK, record.state) >= rank(STATE_RANK, held.state):
            best[record.remote_id] = record
    return list(best.values())


# Our outbound calls that may exist at the provider under an id we do not know (UNRESOLVED):
# the outcome was hidden (`unknown`: a timeout or dropped connection after the request left),
# the request is in flight (`placing`: a status webhook can beat the provider's answer, or the
# answer's write failed), or it was accepted without an id (`requested`). A `queued` row
# between retries was refused by the provider: not here.
RECONCILE_CANDIDATES_SQL = f"""
    SELECT c.id, v.remote_id,
           abs(extract(epoch FROM COALESCE(c.last_attempt_at, c.created_at) - v.created_at)) AS gap
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])
         AS v(remote_id, from_number, to_number, created_at)
    JOIN {CALLS} c
      ON c.to_number = v.to_number
     -- a call placed from a PBX endpoint we named by URI or extension comes back as the
     -- provider names it: only the number called can be compared
     AND (c.from_number = v.from_number OR c.from_number NOT LIKE '+%%')
     AND COALESCE(c.last_attempt_at, c.created_at)
         BETWEEN v.created_at - make_interval(secs => %s) AND v.created_at + make_interval(secs => %s)
    WHERE c.tenant_id = %s AND c.provider_account_id = %s AND c.remote_id = ''
      AND c.direction = 'outbound' AND c.send_attempts > 0
      AND c.state = ANY(%s::text[])
      AND NOT EXISTS (SELECT 1 FROM {CALLS} x WHERE x.provider_account_id = %s AND x.remote_id = v.remote_id
                                                 AND NOT (x.remote_id = ''))  -- the partial unique index
"""  # noqa: S608 - table names are ours, values are parameters

# Re-checks the row under its lock: a worker may have recorded the provider's answer meanwhile.
# The error said the outcome was unknown; it is known now.
RECONCILE_UPDATE_SQL = f"""
    UPDATE {CALLS} c SET remote_id = m.remote_id, error = '',
        raw = c.raw || jsonb_build_object('reconciled_from', c.state),
        updated_at = now()
    FROM unnest(%s::bigint[], %s::text[]) AS m(id, remote_id)
    WHERE c.id = m.id AND c.remote_id = '' AND c.state = ANY(%s::text[])
    RETURNING c.id
"""  # noqa: S608


def _reconcile_our_calls(cursor: Any, tenant_id: int, root_id: int, records: Sequence[RemoteCall]) -> int:
    """Give our outbound calls without a remote id the id of the record that is the same
    call, matched on (to, from, time within the window): closest pairs first, each row and
    record at most once. The page's upsert then updates our row instead of inserting a twin.
    Returns the number of rows reconciled."""
    outbound = [r for r in records if str(r.direction) == "outbound" and r.to_number]
    if not outbound:
        return 0
    cursor.execute(
        RECONCILE_CANDIDATES_SQL,
        [
            [r.remote_id for r in outbound],
            [r.from_number for r in outbound],
            [r.to_number for r in outbound],
            [r.created_at for r in outbound],
            RECONCILE_WINDOW_SECONDS,
            RECONCILE_WINDOW_SECONDS,
            tenant_id,
            root_id,
            list(UNRESOLVED),
            root_id,
        ],
    )
    taken_rows: set[int] = set()
    taken_records: set[str] = set()
    pairs: list[tuple[int, str]] = []
    # Few candidates (only our unresolved calls in the window): a greedy pass in Python.
    for call_id, remote_id, _gap in sorted(cursor.fetchall(), key=lambda c: (c[2], c[0], c[1])):
        if call_id in taken_rows or remote_id in taken_records:
            continue
        taken_rows.add(call_id)
        taken_records.add(remote_id)
        pairs.append((call_id, remote_id))
    if not pairs:
        return 0
    cursor.execute(RECONCILE_UPDATE_SQL, [[p[0] for p in pairs], [p[1] for p in pairs], list(UNRESOLVED)])
    return len(cursor.fetchall())


def _staged_row(r: RemoteCall, sub_id: int | None) -> tuple[Any, ...]:
    return (
        sub_id,
        r.remote_id,
        str(r.direction),
        r.from_number,
        r.to_number,
        str(r.state),
        r.raw_state[:32],
        r.created_at,
        r.answered_at,
        r.ended_at,
        r.duration,
        r.cost,
        r.currency if r.cost is not None else "",
        to_json(r.actions),
        to_json(scrub(r.raw)),
        bool(r.legs),
    )


def write_calls(account: ProviderAccount, records: Sequence[RemoteCall]) -> CallWrite:
    """One page: COPY to the staging table, reconcile our calls, read what the rollups
    counted for the existing rows, one merge (unchanged rows are not written), legs
    replaced, recordings linked, rollup differences appended."""
    unique = _latest(records)
    if not unique:
        return CallWrite(UpsertResult(), 0, {})
    tenant_id = account.tenant_id
    root_id, subs = owner_ids(account, (r.subaccount_remote_id for r in unique))
    lock_account(root_id, LOCK_NAMESPACE)
    with connection.cursor() as cursor:
        UPSERT.stage_rows(cursor, (_staged_row(r, subs.get(r.subaccount_remote_id)) for r in unique))
        remote_ids = [r.remote_id for r in unique]
        params = {"tenant": tenant_id, "account": root_id, "ids": remote_ids}
        # Records equal to what we hold leave the page first: nothing to write or count.
        if UPSERT.prune(params) == 0:
            return CallWrite(UpsertResult(created=0, updated=len(unique)), 0, {})
        # Before reading `before`: a reconciled row is then an existing row whose rollup
        # entry (counted when we queued it) moves by the difference, not a second count.
        _reconcile_our_calls(cursor, tenant_id, root_id, unique)
        cursor.execute(
            f"SELECT c.remote_id, c.id, {', '.join(f'c.{f}' for f in ROW_FIELDS)}"  # noqa: S608
            " FROM unnest(%s::text[]) AS k(remote_id) CROSS JOIN LATERAL ("  # an index lookup per id
            f" SELECT * FROM {CALLS} c WHERE c.provider_account_id = %s AND c.remote_id = k.remote_id"
            " AND NOT (c.remote_id = '') LIMIT 1) c",
            [remote_ids, root_id],
        )
        found = cursor.fetchall()
        before = {r[0]: dict(zip(ROW_FIELDS, r[2:], strict=True)) for r in found}
        existing_ids = {r[0]: r[1] for r in found}
        returned = UPSERT.merge(cursor, params)

    zone = zoneinfo.ZoneInfo(account.tenant.timezone or "UTC")  # the tenant is cached on the account
    deltas: list[UsageDelta] = []
    created = changed = 0
    ids: dict[str, int] = {}
    new_ids: list[int] = []
    for row in returned:
        call_id, remote_id = row[:2]
        inserted = row[-1]
        after = dict(zip(ROW_FIELDS, row[2:-1], strict=True))
        ids[remote_id] = call_id
        old = before.get(remote_id)
        if inserted or old is None:
            created += 1
            new_ids.append(call_id)
            deltas.append(_usage(tenant_id, root_id, zone, after, +1))
        elif old != after:
            deltas += [_usage(tenant_id, root_id, zone, old, -1), _usage(tenant_id, root_id, zone, after, +1)]
        changed += inserted or old != after

    # Legs come from reports that are not older than the stored call; they replace the set
    # (also of calls the merge left as they were: the legs are not part of the row).
    with_legs = [
        r
        for r in unique
        if r.legs
        and rank(STATE_RANK, r.state) >= rank(STATE_RANK, (before.get(r.remote_id) or {}).get("state"))
    ]
    ids = {**existing_ids, **ids}
    legs = [(ids[r.remote_id], position, leg) for r in with_legs for position, leg in enumerate(r.legs)]
    _replace_legs(tenant_id, legs)
    if new_ids:
        _link_recordings(tenant_id, root_id, new_ids)
    record_changes(deltas)
    return CallWrite(UpsertResult(created=created, updated=len(unique) - created), changed, ids)


def _leg_values(position: int, leg: Any) -> tuple[Any, ...]:
    return (position, leg.from_number, leg.to_number, str(leg.state), leg.raw_state[:32], leg.duration,
            leg.remote_id, json.loads(to_json(scrub(leg.raw))))  # fmt: skip


def _replace_legs(tenant_id: int, legs: list[tuple[int, int, Any]]) -> None:
    """Each call's legs become the reported set; calls whose stored set is already that one
    are left alone (a rerun over unchanged history rewrites no legs)."""
    if not legs:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT call_id, position, from_number, to_number, state, raw_state, duration, remote_id, raw"  # noqa: S608
            f" FROM {LEGS} WHERE call_id = ANY(%s::bigint[]) ORDER BY call_id, position",
            [sorted({call_id for call_id, _, _ in legs})],
        )
        stored: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for *row, raw in cursor.fetchall():
            # Django's cursors hand jsonb back as text: compare it as the value it holds.
            stored[row[0]].append((*row[1:], json.loads(raw) if isinstance(raw, str) else raw))
        reported: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for call_id, position, leg in legs:
            reported[call_id].append(_leg_values(position, leg))
        changed = sorted(c for c, values in reported.items() if stored.get(c) != values)
        if not changed:
            return
        legs = [leg for leg in legs if leg[0] in set(changed)]
        cursor.execute(f"DELETE FROM {LEGS} WHERE call_id = ANY(%s::bigint[])", [changed])  # noqa: S608
        cursor.execute(
            f"""
            INSERT INTO {LEGS} (tenant_id, call_id, position, from_number, to_number, state,
                                raw_state, duration, remote_id, raw)
            SELECT %s, l.call_id, l.position, l.from_number, l.to_number, l.state, l.raw_state,
                   l.duration, l.remote_id, l.raw::jsonb
            FROM unnest(%s::bigint[], %s::integer[], %s::text[], %s::text[], %s::text[],
                        %s::text[], %s::integer[], %s::text[], %s::text[])
                 AS l(call_id, position, from_number, to_number, state, raw_state, duration,
                      remote_id, raw)
            """,  # noqa: S608
            [
                tenant_id,
                [c for c, _, _ in legs],
                [p for _, p, _ in legs],
                [leg.from_number for _, _, leg in legs],
                [leg.to_number for _, _, leg in legs],
                [str(leg.state) for _, _, leg in legs],
                [leg.raw_state[:32] for _, _, leg in legs],
                [leg.duration for _, _, leg in legs],
                [leg.remote_id for _, _, leg in legs],
                [to_json(scrub(leg.raw)) for _, _, leg in legs],
            ],
        )


def _link_recordings(tenant_id: int, root_id: int, call_ids: list[int]) -> None:
    """Recordings that arrived before their call (a webhook race) find it now."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {RECORDINGS} r SET call_id = c.id
            FROM {CALLS} c
            WHERE c.id = ANY(%s::bigint[]) AND r.tenant_id = %s AND r.provider_account_id = %s
              AND r.call_id IS NULL AND r.call_remote_id = c.remote_id
            """,  # noqa: S608
            [call_ids, tenant_id, root_id],
        )


@transaction.atomic
def upsert_calls(account: ProviderAccount, records: Sequence[RemoteCall]) -> UpsertResult:
    return write_calls(account, records).result


@transaction.atomic
def apply_call_status(account: ProviderAccount, event: InboundEvent) -> bool:
    """A call status webhook: the (maybe partial) call goes through the same write path as a
    sync, so a late or replayed report cannot move a call backwards."""
    if event.call is None or not event.call.remote_id:
        return False
    return write_calls(account, [event.call]).changed > 0


# -- recordings -------------------------------------------------------------------------------
UPSERT_RECORDINGS_SQL = f"""
    INSERT INTO {RECORDINGS} AS r (
        tenant_id, provider_account_id, subaccount_id, call_id, remote_id, call_remote_id,
        created_at, duration, size, content_type, file, fetch_status, fetch_error,
        fetch_attempts, fetched_at, raw, updated_at)
    SELECT %s, %s, i.subaccount_id, c.id, i.remote_id, i.call_remote_id, i.created_at,
           i.duration, i.size, i.content_type, '', 'pending', '', 0, NULL, i.raw::jsonb, now()
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::integer[],
                %s::bigint[], %s::text[], %s::text[])
         AS i(subaccount_id, remote_id, call_remote_id, created_at, duration, size,
              content_type, raw)
    LEFT JOIN {CALLS} c ON c.provider_account_id = %s AND NOT (c.remote_id = '')
                          AND c.remote_id = i.call_remote_id
    ON CONFLICT (provider_account_id, remote_id) DO UPDATE SET
        call_id = COALESCE(EXCLUDED.call_id, r.call_id),
        call_remote_id = COALESCE(NULLIF(EXCLUDED.call_remote_id, ''), r.call_remote_id),
        subaccount_id = COALESCE(EXCLUDED.subaccount_id, r.subaccount_id),
        created_at = EXCLUDED.created_at,
        duration = COALESCE(EXCLUDED.duration, r.duration),
        size = CASE WHEN r.fetch_status = 'fetched' THEN r.size ELSE COALESCE(EXCLUDED.size, r.size) END,
        content_type = CASE WHEN r.fetch_status = 'fetched' OR EXCLUDED.content_type = ''
                            THEN r.content_type ELSE EXCLUDED.content_type END,
        raw = EXCLUDED.raw,
        updated_at = now()
    RETURNING r.id, (r.xmax = 0)
"""  # noqa: S608 - table names are ours, values are parameters


def _enqueue_fetches(recording_ids: list[int]) -> None:
    fetch_recording = queue_task("calls.tasks.fetch_recording")
    for recording_id in recording_ids:
        fetch_recording.delay(recording_id)


@transaction.atomic
def upsert_recordings(account: ProviderAccount, records: Sequence[RemoteRecording]) -> UpsertResult:
    """Recordings linked to their call by the provider's call id; new ones are fetched right
    after commit (some providers keep the audio for a few days only)."""
    unique = list({r.remote_id: r for r in records if r.remote_id}.values())
    if not unique:
        return UpsertResult()
    root_id, subs = owner_ids(account, ())
    sub_id = subs[""]
    with connection.cursor() as cursor:
        cursor.execute(
            UPSERT_RECORDINGS_SQL,
            [
                account.tenant_id,
                root_id,
                [sub_id] * len(unique),
                [r.remote_id for r in unique],
                [r.call_remote_id for r in unique],
                [r.created_at for r in unique],
                [r.duration for r in unique],
                [r.size for r in unique],
                [r.content_type[:64] for r in unique],
                [to_json(scrub(r.raw)) for r in unique],
                root_id,
            ],
        )
        rows = cursor.fetchall()
    new_ids = [recording_id for recording_id, inserted in rows if inserted]
    if new_ids:
        transaction.on_commit(partial(_enqueue_fetches, new_ids))
    return UpsertResult(created=len(new_ids), updated=len(rows) - len(new_ids))


def file_extension(content_type: str) -> str:
    known = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg"}
    return known.get(content_type) or mimetypes.guess_extension(content_type or "") or ".bin"


def remote_recording(recording: Recording) -> RemoteRecording:
    """The adapter's view of a stored recording (what download_recording takes)."""
    created: datetime = recording.created_at
    return RemoteRecording(
        remote_id=recording.remote_id,
        call_remote_id=recording.call_remote_id,
        created_at=created,
        duration=recording.duration,
        size=recording.size,
        content_type=recording.content_type,
        raw=recording.raw,
    )
