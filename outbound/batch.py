"""First attempts in batches: one worker claims up to `SEND_BATCH_SIZE` queued rows of an
account at once and sends them over one adapter (one connection, one credential decrypt),
then writes their outcomes in one transaction. Same state machine as `delivery.deliver`
(queued -> sending -> outcome), same never-twice rule; only the cost per row is lower.

Only first attempts are batched (`send_attempts = 0`): a row put back for a retry keeps its
own task and backoff, and rows a batch could not get to are handed to that per-row path
(`Outbox.enqueue`), never sent by the batch later. The batch stops at the first answer that
is not a clean success or refusal, and it never holds claimed rows longer than
`BATCH_MAX_SECONDS` (well under `delivery.sending_stale_after()`, after which the sweeper
would call them unknown).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core import redis as core_redis
from core.db import retry_on_conflict, update_rows
from providers.adapters.errors import AuthFailed, NotSupported, ProviderError, Rejected
from providers.adapters.records import SendResult
from providers.adapters.retry import DEFAULT_POLICY
from providers.connect import BufferedLog, open_adapter
from providers.models import ProviderAccount

from .delivery import (
    DATABASE_ERRORS,
    KEPT_RESULT_RETRY_IN,
    Outbox,
    fail,
    is_safe_to_retry,
    keep_result,
    mark_unknown,
    sending_stale_after,
    succeeded,
    write_outcome,
)
from .rate import MAX_INLINE_WAIT, send_slots_wait

logger = logging.getLogger(__name__)

# A batch hands the rows it has not sent yet back to the per-row path after this long (or a
# quarter of the sweeper's stale limit, when that is shorter).
BATCH_MAX_SECONDS = 30.0


def hold_limit() -> float:
    return min(BATCH_MAX_SECONDS, sending_stale_after().total_seconds() / 4)
# Successes are written every WRITE_EVERY rows or WRITE_WITHIN seconds, whichever first.
WRITE_EVERY = 10
WRITE_WITHIN = 0.2


@dataclass
class BatchReport:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    handed_back: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)

    def note(self, pk: int, status: str) -> None:
        self.outcomes[pk] = status


def claim(box: Outbox, tenant_id: int, account_id: int, limit: int) -> list[Any]:
    """Claim up to `limit` first attempts queued for `account_id` (and its subaccounts),
    oldest first; rows another worker holds are skipped, never waited for."""
    now = timezone.now()
    sf = box.status_field
    with transaction.atomic():
        ids = list(
            box.pending()
            .filter(tenant_id=tenant_id, provider_account_id=account_id, remote_id="", send_attempts=0)
            .filter(**{sf: box.queued})
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        box.objects().filter(pk__in=ids, **{sf: box.queued}).update(
            **{sf: box.sending}, send_attempts=F("send_attempts") + 1, last_attempt_at=now, updated_at=now
        )
    return list(box.rows().filter(pk__in=ids).order_by("pk"))


def hand_back(box: Outbox, rows: list[Any], retry_in: float | None = None) -> int:
    """Rows claimed but not sent go back to `queued` (their attempt uncounted) and to the
    per-row path, which applies the retry policy."""
    if not rows:
        return 0
    sf = box.status_field
    ids = [row.pk for row in rows]
    box.objects().filter(pk__in=ids, remote_id="", **{sf: box.sending}).update(
        **{sf: box.queued}, send_attempts=F("send_attempts") - 1, updated_at=timezone.now()
    )
    for pk in ids:
        box.enqueue(pk, countdown=retry_in)
    return len(ids)


def send_batch(
    box: Outbox, rows: list[Any], *, sleep: Callable[[float], None] = time.sleep
) -> BatchReport:
    """Send claimed rows (all of one root account), spaced by the account's send rate, with
    up to SEND_BATCH_IN_FLIGHT requests waiting on the provider at once. Only the HTTP
    calls run on the helper threads; every database write stays on this thread (and its
    tenant's row-level security settings), in the order the rows were sent."""
    report = BatchReport()
    pending = list(rows)
    groups: dict[int, list[Any]] = {}
    for row in rows:
        groups.setdefault((row.subaccount or row.provider_account).pk, []).append(row)
    writer = _Writer(box, report)
    for group in groups.values():
        account = group[0].subaccount or group[0].provider_account
        if ProviderAccount.Status.DELETING in (account.status, group[0].provider_account.status):
            for row in group:
                report.note(row.pk, fail(box, row.pk, "The provider account is being deleted.").status)
                pending.remove(row)
            continue
        wait, interval = send_slots_wait(account, len(group))
        if wait > MAX_INLINE_WAIT:
            report.handed_back += hand_back(box, pending, retry_in=wait)
            break
        if not _send_group(box, account, group, pending, writer, time.monotonic() + wait, interval, sleep):
            report.handed_back += hand_back(box, pending)
            break
    writer.flush()
    report.sent = sum(1 for s in report.outcomes.values() if s not in (box.failed, box.unknown, box.queued))
    report.failed = sum(1 for s in report.outcomes.values() if s == box.failed)
    report.unknown = sum(1 for s in report.outcomes.values() if s == box.unknown)
    return report


class _Writer:
    """Successes written every WRITE_EVERY rows or WRITE_WITHIN seconds: delivery reports
    follow a send within seconds, so remote ids are stored early."""

    def __init__(self, box: Outbox, report: BatchReport):
        self.box, self.report = box, report
        self.successes: list[tuple[Any, SendResult]] = []
        self.written_at = time.monotonic()

    def add(self, row: Any, result: SendResult) -> None:
        self.successes.append((row, result))
        if len(self.successes) >= WRITE_EVERY or time.monotonic() - self.written_at > WRITE_WITHIN:
            self.flush()

    def flush(self) -> None:
        successes, self.successes, self.written_at = self.successes, [], time.monotonic()
        _record_successes(self.box, successes, self.report)


def _send_group(box: Outbox, account: ProviderAccount, group: list[Any], pending: list[Any], writer: _Writer,
                first_at: float, interval: float, sleep: Callable[[float], None]) -> bool:  # fmt: skip
    """Send one account's rows; False when it stopped early (rows left in `pending`)."""
    started = time.monotonic()
    log = BufferedLog(account)  # the helper threads record; this thread writes the rows
    in_flight: deque[tuple[Any, Future[SendResult]]] = deque()
    stop = False
    with open_adapter(account, recorder=log.append) as adapter, ThreadPoolExecutor(
        settings.SEND_BATCH_IN_FLIGHT, thread_name_prefix="send"
    ) as pool:
        index = 0
        while in_flight or (index < len(group) and not stop):
            while not stop and index < len(group) and len(in_flight) < settings.SEND_BATCH_IN_FLIGHT:
                due = first_at + index * interval - time.monotonic()
                if due > 0:
                    sleep(due)
                if time.monotonic() - started > hold_limit():
                    stop = True
                    break
                row = group[index]
                pending.remove(row)
                in_flight.append((row, pool.submit(box.send, adapter, row, account)))
                index += 1
            if not in_flight:
                break
            row, future = in_flight.popleft()
            outcome = _outcome(box, row, future)
            if outcome is None:
                writer.add(row, future.result())
                continue
            writer.report.note(row.pk, outcome)
            if outcome in (box.unknown, box.queued, box.sending):
                stop = True  # the provider is not answering cleanly: the rest go one by one
        log.flush()
    return not stop


def _outcome(box: Outbox, row: Any, future: Future[SendResult]) -> str | None:
    """None for a success (written with the batch); otherwise the row's outcome, written now."""
    try:
        future.result()
    except (Rejected, AuthFailed, NotSupported) as exc:
        return fail(box, row.pk, exc.message).status
    except ProviderError as exc:
        if not is_safe_to_retry(exc):
            return mark_unknown(box, row.pk, f"{box.timed_out} ({exc.message})").status
        if not DEFAULT_POLICY.should_retry(1, exc):
            return fail(box, row.pk, f"Gave up after 1 attempt: {exc.message}").status
        # Not taken: back to the queue, counted, for the per-row path's retry policy.
        try:
            values = {box.status_field: box.queued, "error": exc.message[:1000]}
            write_outcome(box, row.pk, box.sending, values)
        except DATABASE_ERRORS:
            logger.exception("%s %s: could not put it back in the queue", box.noun, row.pk)
            return box.sending
        box.enqueue(row.pk, countdown=DEFAULT_POLICY.delay(1, exc))
        return box.queued
    except Exception:
        logger.exception("%s %s: unexpected error while sending", box.noun, row.pk)
        return mark_unknown(box, row.pk, box.timed_out).status
    return None


@retry_on_conflict
def _move_many(box: Outbox, values: dict[int, dict[str, Any]]) -> list[Any]:
    """`delivery.move` for many rows: those still `sending` take their values, under their
    row locks, with the rollup differences in one ledger INSERT."""
    sf = box.status_field
    with transaction.atomic():
        rows = list(
            box.objects().select_for_update(of=("self",))
            .select_related("tenant")
            .filter(pk__in=list(values), **{sf: box.sending})
            .order_by("pk")
        )
        if not rows:
            return []
        deltas = []
        names: set[str] = set()
        for row in rows:
            deltas.append(box.usage(row, -1))
            for name, value in values[row.pk].items():
                setattr(row, name, value)
                names.add(name)
            row.updated_at = timezone.now()
            deltas.append(box.usage(row, +1))
        update_rows(box.model, rows, [*sorted(names), "updated_at"])
        box.record_usage(deltas)
    return rows


def _record_successes(box: Outbox, successes: list[tuple[Any, SendResult]], report: BatchReport) -> None:
    if not successes:
        return
    values = {}
    for row, result in successes:
        v = box.success(row, result)
        v["remote_id"] = result.remote_id[: box.remote_id_length]
        values[row.pk] = v
    try:
        moved = _move_many(box, values)
    except IntegrityError:
        # A sync or webhook stored one of these remote ids first: write them one by one,
        # where that case has its answer.
        for row, result in successes:
            report.note(row.pk, succeeded(box, row.pk, row, result).status)
        return
    except DATABASE_ERRORS:
        logger.exception("%s: a batch of %d was taken; the outcome write failed", box.noun, len(successes))
        _write_one_by_one(box, successes, report)
        return
    results = {row.pk: result for row, result in successes}
    box.finish_many(
        [(row, values[row.pk][box.status_field] != box.failed, results[row.pk].cost) for row in moved]
    )
    for row, _ in successes:
        report.note(row.pk, values[row.pk][box.status_field])


def _write_one_by_one(box: Outbox, successes: list[tuple[Any, SendResult]], report: BatchReport) -> None:
    """The database dropped the batch's write: each answer goes through the durable per-row
    write (retried over a new connection), and is kept in Redis for a later attempt if it
    still cannot be written."""
    for row, result in successes:
        values = box.success(row, result)
        values["remote_id"] = result.remote_id[: box.remote_id_length]
        try:
            moved = write_outcome(box, row.pk, box.sending, values)
        except (IntegrityError, *DATABASE_ERRORS):
            keep_result(box, row.pk, result)
            box.enqueue(row.pk, countdown=KEPT_RESULT_RETRY_IN)
            report.note(row.pk, box.sending)
            continue
        if moved is not None:
            box.finish(moved, sent=values[box.status_field] != box.failed, cost=result.cost)
        report.note(row.pk, values[box.status_field])


# -- kicking a drainer -------------------------------------------------------------------------
def _kick_key(account_id: int) -> str:
    return core_redis.key(f"outbound:drain:{account_id}")


def should_kick(account_id: int) -> bool:
    """Whether to enqueue a drainer for the account: at most one per SEND_KICK_MS while
    one runs (it clears the key when it finds the queue empty). Redis down: yes (the
    broker is probably down too; the sweeper enqueues what is left)."""
    debounce_ms = settings.SEND_KICK_MS
    if not debounce_ms:
        return True
    try:
        return bool(core_redis.client().set(_kick_key(account_id), b"1", nx=True, px=debounce_ms))
    except Exception:
        logger.warning("could not debounce the drainer of account %s", account_id, exc_info=True)
        return True


def drained(account_id: int) -> None:
    """The drainer found nothing: the next stored row kicks a new one."""
    try:
        core_redis.client().delete(_kick_key(account_id))
    except Exception:
        logger.warning("could not clear the drainer key of account %s", account_id, exc_info=True)


def drain(
    box: Outbox,
    account: ProviderAccount,
    *,
    max_seconds: float = BATCH_MAX_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send the account's queued first attempts in batches until none is left (or
    `max_seconds` passed: the caller hands over to a fresh task)."""
    started = time.monotonic()
    totals = {"sent": 0, "failed": 0, "unknown": 0, "handed_back": 0, "batches": 0}
    size = max(1, min(settings.SEND_BATCH_SIZE, int(account.send_rate or settings.SEND_BATCH_SIZE)))
    while time.monotonic() - started < max_seconds:
        rows = claim(box, account.tenant_id, account.pk, size)
        if not rows:
            drained(account.pk)
            # A row stored between the last claim and the delete kicked no one: look again.
            rows = claim(box, account.tenant_id, account.pk, size)
            if not rows:
                return {**totals, "done": True}
        report = send_batch(box, rows, sleep=sleep)
        totals["batches"] += 1
        for name in ("sent", "failed", "unknown", "handed_back"):
            totals[name] += getattr(report, name)
        if report.handed_back:
            return {**totals, "done": True}  # the rest go one by one, with backoff
        if len(rows) < size // 2:
            # Sends that trickle in are sent in batches, not one by one: each batch costs a
            # claim, an adapter and an outcome write whatever its size.
            sleep(settings.SEND_BATCH_PAUSE_MS / 1000)
    return {**totals, "done": False}
