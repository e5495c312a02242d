"""One attempt at an outbound send (a message or a call), and its outcome.

    queued --claim--> sending --adapter--> sent-like (the domain's success state)
                         |                 failed   (refused; never taken)
                         |                 queued   (not taken, safe to retry later)
                         +---------------> unknown  (may have been taken: never resent)

The claim (a conditional UPDATE queued -> sending) has one winner, so two workers never
send one row. A row found `sending` without a remote id means an earlier attempt stopped
mid-send (a killed worker's redelivered task, the sweeper): its outcome is taken from the
kept result when the earlier attempt got that far, otherwise the row becomes `unknown` and
the next history sync reconciles it. Nothing here resends a row that may have left.

The outcome write is durable: when the database drops after the provider took the send,
the write is retried (reconnecting), and if it still fails the provider's answer is kept in
Redis (see `keep_result`) and the row stays `sending`, where the task's retry, the sweeper
and the history sync's reconciliation all find it.

A domain app plugs in with an `Outbox`: its model, its status names, the rollup deltas of
a row, its adapter call and what a success writes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, InterfaceError, OperationalError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from core import redis as core_redis
from core.db import retry_on_conflict
from providers.adapters.base import Adapter
from providers.adapters.errors import (
    AuthFailed,
    NotSupported,
    ProviderError,
    RateLimited,
    Rejected,
    Unavailable,
)
from providers.adapters.records import SendResult
from providers.adapters.retry import DEFAULT_POLICY, RetryPolicy
from providers.connect import open_adapter
from providers.models import ProviderAccount

from .rate import MAX_INLINE_WAIT, send_slot_wait

logger = logging.getLogger(__name__)

# A 502/503 answer means the provider (or its front door) did not take the request; any other
# failure after the request left (timeout, dropped connection, 500, 504, unreadable answer)
# may hide a send that happened.
NOT_TAKEN_STATUSES = frozenset({502, 503})
DELETING = "The provider account is being deleted."
# The outcome write: attempts, and the pause before each retry (the database may be restarting).
OUTCOME_WRITE_ATTEMPTS = 4
OUTCOME_WRITE_PAUSE = 0.5
# A result kept because its write failed: how long Redis keeps it, and when the task retries.
KEPT_RESULT_TTL = 7 * 24 * 3600
KEPT_RESULT_RETRY_IN = 30.0
# The database could not be read at the start of an attempt: try again this much later.
DATABASE_DOWN_RETRY_IN = 15.0
SWEEP_BATCH = 1000
DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_safe_to_retry(exc: ProviderError) -> bool:
    """Whether the provider surely did not take the request (so sending again is safe)."""
    if isinstance(exc, RateLimited):
        return True
    if isinstance(exc, Unavailable):
        return not exc.request_sent or exc.status in NOT_TAKEN_STATUSES
    return False


@dataclass
class Outcome:
    id: int
    status: str
    retry_in: float | None = None  # the task should retry after this many seconds
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    noun: str = "message"
    status_key: str = "status"

    def as_dict(self) -> dict[str, Any]:
        return {self.noun: self.id, self.status_key: self.status, "detail": self.detail}


class Outbox:
    """What a domain app tells the outbound layer about its rows. Subclass per model."""

    model: ClassVar[type[models.Model]]
    noun: ClassVar[str]  # "message", "call": task results and logs
    status_field: ClassVar[str] = "status"
    queued: ClassVar[str] = "queued"
    sending: ClassVar[str] = "sending"  # claimed: the attempt is in flight
    failed: ClassVar[str] = "failed"
    unknown: ClassVar[str] = "unknown"
    remote_id_length: ClassVar[int] = 64
    redelivered: ClassVar[str] = (
        "The attempt was interrupted after it started; its outcome is unknown until a sync."
    )
    timed_out: ClassVar[str] = (
        "The provider did not answer; it may have been done. The next history sync will tell."
    )

    # -- what the domain provides ----------------------------------------------------------------
    def usage(self, row: Any, sign: int) -> Any:
        """The rollup delta of `row` counted with `sign`."""
        raise NotImplementedError

    def record_usage(self, deltas: list[Any]) -> None:
        raise NotImplementedError

    def send(self, adapter: Adapter, row: Any, account: ProviderAccount) -> SendResult:
        """The adapter call for `row` (raises the adapter's errors)."""
        raise NotImplementedError

    def success(self, row: Any, result: SendResult) -> dict[str, Any]:
        """The values a provider's answer writes (status, remote id, cost …)."""
        raise NotImplementedError

    def duplicate(self, row: Any, result: SendResult) -> dict[str, Any]:
        """Extra values when the answer's remote id is already stored (a sync or webhook won)."""
        return {}

    def finish(self, row: Any, *, sent: bool, cost: Decimal | None = None) -> None:
        """Settle (sent) or release (never sent) what the row reserved from the limits."""

    def finish_many(self, rows: list[tuple[Any, bool, Decimal | None]]) -> None:
        """`finish` for a batch of (row, sent, cost)."""
        for row, sent, cost in rows:
            self.finish(row, sent=sent, cost=cost)

    def enqueue(self, pk: int, countdown: float | None = None) -> None:
        """Queue the row's own send task (the sweeper's re-enqueue, a batch's hand-back)."""
        raise NotImplementedError

    def pending(self) -> models.QuerySet[Any]:
        """Our outbound rows the sweeper looks at."""
        return self.objects().all()

    # -- shared ----------------------------------------------------------------------------------
    def objects(self) -> models.Manager[Any]:
        return self.model._default_manager

    def status_of(self, row: Any) -> str:
        return str(getattr(row, self.status_field))

    def rows(self) -> models.QuerySet[Any]:
        return self.objects().select_related("provider_account", "subaccount", "tenant")

    def outcome(self, pk: int, status: str, **kwargs: Any) -> Outcome:
        status_key = "status" if self.status_field == "status" else "state"
        return Outcome(pk, status, noun=self.noun, status_key=status_key, **kwargs)


# -- writing outcomes -------------------------------------------------------------------------------
@retry_on_conflict
def move(box: Outbox, pk: int, expect: str, **values: Any) -> Any | None:
    """Move a row on from status `expect` (under its row lock, with the rollup difference);
    None when it was no longer in that status."""
    with transaction.atomic():
        row = (
            box.objects().select_for_update(of=("self",))
            .select_related("tenant")
            .filter(pk=pk, **{box.status_field: expect})
            .first()
        )
        if row is None:
            return None
        before = box.usage(row, -1)
        for name, value in values.items():
            setattr(row, name, value)
        row.save(update_fields=[*values, "updated_at"])
        box.record_usage([before, box.usage(row, +1)])
    return row


def _reconnect() -> None:
    """Drop a connection the database no longer answers on; the next query opens a new one.
    Inside a transaction nothing can be done (the caller's transaction is lost anyway)."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def write_outcome(
    box: Outbox, pk: int, expect: str, values: dict[str, Any], *, sleep: Callable[[float], None] = time.sleep
) -> Any | None:
    """`move`, retried when the connection to the database is lost (OperationalError,
    InterfaceError): the outcome of a send must not be dropped by a database restart. The
    last failure propagates."""
    for attempt in range(1, OUTCOME_WRITE_ATTEMPTS + 1):
        try:
            return move(box, pk, expect, **values)
        except DATABASE_ERRORS as exc:
            if attempt == OUTCOME_WRITE_ATTEMPTS:
                raise
            logger.warning("%s %s: writing the outcome failed (%s); retrying", box.noun, pk, exc)
            _reconnect()
            sleep(OUTCOME_WRITE_PAUSE * attempt)
    raise AssertionError("unreachable")


def fail(box: Outbox, pk: int, error: str, raw: dict[str, Any] | None = None) -> Outcome:
    values: dict[str, Any] = {box.status_field: box.failed, "error": error[:1000], **(raw or {})}
    try:
        row = write_outcome(box, pk, box.sending, values)
    except DATABASE_ERRORS:
        # Not taken by the provider: the row stays `sending` and the sweeper makes it unknown.
        logger.exception("%s %s: could not record that it failed (%s)", box.noun, pk, error)
        return box.outcome(pk, box.sending, detail=error)
    if row is not None:
        box.finish(row, sent=False)
    return box.outcome(pk, box.failed, detail=error)


def mark_unknown(box: Outbox, pk: int, error: str, **extra: Any) -> Outcome:
    try:
        write_outcome(box, pk, box.sending, {box.status_field: box.unknown, "error": error, **extra})
    except DATABASE_ERRORS:
        logger.exception("%s %s: could not record that its outcome is unknown", box.noun, pk)
        return box.outcome(pk, box.sending, detail=error)
    return box.outcome(pk, box.unknown, detail=error)


def succeeded(box: Outbox, pk: int, row: Any, result: SendResult) -> Outcome:
    """Record the provider's answer. If the database cannot take it, the answer is kept for
    `recover` and the row stays `sending` (never resent)."""
    values = box.success(row, result)
    values["remote_id"] = result.remote_id[: box.remote_id_length]
    status = values[box.status_field]
    try:
        moved = write_outcome(box, pk, box.sending, values)
    except IntegrityError:
        # A sync or a webhook stored this remote id first (it raced our answer): keep that row,
        # and ours for reconciliation.
        logger.warning("%s %s: remote id %s already stored", box.noun, pk, result.remote_id)
        return mark_unknown(box, pk, box.timed_out, **box.duplicate(row, result))
    except DATABASE_ERRORS:
        logger.exception("%s %s: taken as %s; the outcome write failed", box.noun, pk, result.remote_id)
        keep_result(box, pk, result)
        return box.outcome(
            pk,
            box.sending,
            retry_in=KEPT_RESULT_RETRY_IN,
            detail="sent; the outcome is written later",
            extra={"remote_id": result.remote_id},
        )
    forget_result(box, pk)
    if moved is not None:
        box.finish(moved, sent=status != box.failed, cost=result.cost)
    return box.outcome(pk, status, extra={"remote_id": result.remote_id})


# -- kept results ----------------------------------------------------------------------------------
def _kept_key(box: Outbox, pk: int) -> str:
    return core_redis.key(f"outbound:kept:{box.noun}:{pk}")


def keep_result(box: Outbox, pk: int, result: SendResult) -> bool:
    """Keep the provider's answer where `recover` finds it (Redis, a week). When Redis is
    down too, the answer is in the log and the history sync reconciles the row."""
    data = json.dumps({**asdict(result), "status": str(result.status)}, cls=DjangoJSONEncoder)
    try:
        core_redis.client().set(_kept_key(box, pk), data, ex=KEPT_RESULT_TTL)
    except Exception:
        logger.exception("%s %s: could not keep the provider's answer: %s", box.noun, pk, data)
        return False
    return True


def kept_result(box: Outbox, pk: int) -> SendResult | None:
    try:
        data = core_redis.client().get(_kept_key(box, pk))
    except Exception:
        logger.exception("%s %s: could not read a kept answer", box.noun, pk)
        return None
    if not data:
        return None
    fields = json.loads(data)
    cost = fields.pop("cost", None)
    return SendResult(**fields, cost=Decimal(cost) if cost is not None else None)


def _kept_ids(box: Outbox) -> list[int]:
    """Ids of rows with a kept answer (few: only writes that failed)."""
    prefix = _kept_key(box, 0)[:-1]
    try:
        keys = list(core_redis.client().scan_iter(match=f"{prefix}*", count=1000))
    except Exception:
        logger.exception("%s: could not list kept answers", box.noun)
        return []
    return [int(k.decode().rsplit(":", 1)[1]) for k in keys[:SWEEP_BATCH]]


def forget_result(box: Outbox, pk: int) -> None:
    try:
        core_redis.client().delete(_kept_key(box, pk))
    except Exception:
        logger.warning("%s %s: could not drop a kept answer", box.noun, pk, exc_info=True)


def recover(box: Outbox, row: Any, detail: str) -> Outcome:
    """A row left `sending` without a remote id: write the kept answer when there is one,
    otherwise the outcome is unknown (the earlier attempt may have reached the provider)."""
    result = kept_result(box, row.pk)
    if result is not None:
        return succeeded(box, row.pk, row, result)
    return mark_unknown(box, row.pk, detail)


# -- one attempt ---------------------------------------------------------------------------------------
def deliver(
    box: Outbox, pk: int, *, policy: RetryPolicy = DEFAULT_POLICY, sleep: Callable[[float], None] = time.sleep
) -> Outcome:
    """One attempt at sending a queued row. Never sends a row twice: the claim (queued ->
    sending) has one winner, and a row found already `sending` without a remote id means an
    earlier attempt died mid-send, so it is recovered or becomes `unknown`, never resent."""
    try:
        row = box.rows().filter(pk=pk).first()
    except DATABASE_ERRORS as exc:
        _reconnect()
        return box.outcome(
            pk, "waiting", retry_in=DATABASE_DOWN_RETRY_IN, detail=f"database unavailable: {exc}"
        )
    if row is None:
        return box.outcome(pk, "missing")
    status = box.status_of(row)
    if status == box.sending and not row.remote_id:
        return recover(box, row, box.redelivered)
    if status != box.queued or row.remote_id:
        return box.outcome(pk, status, detail="not queued; nothing to do")
    account = row.subaccount or row.provider_account
    wait = send_slot_wait(account)
    if wait > MAX_INLINE_WAIT:
        return box.outcome(pk, box.queued, retry_in=wait, detail="waiting for the send rate")
    if wait:
        sleep(wait)
    now = timezone.now()
    claimed = box.objects().filter(pk=pk, remote_id="", **{box.status_field: box.queued}).update(
        **{box.status_field: box.sending},
        send_attempts=F("send_attempts") + 1,
        last_attempt_at=now,
        updated_at=now,
    )
    if not claimed:
        return box.outcome(pk, "skipped", detail="claimed by another worker")
    if ProviderAccount.Status.DELETING in (account.status, row.provider_account.status):
        return fail(box, pk, DELETING)
    attempt = row.send_attempts + 1
    try:
        with open_adapter(account) as adapter:
            result = box.send(adapter, row, account)
    except (Rejected, AuthFailed, NotSupported) as exc:
        return fail(box, pk, exc.message)
    except ProviderError as exc:
        if not is_safe_to_retry(exc):
            return mark_unknown(box, pk, f"{box.timed_out} ({exc.message})")
        if not policy.should_retry(attempt, exc):
            return fail(box, pk, f"Gave up after {attempt} attempts: {exc.message}")
        try:
            write_outcome(box, pk, box.sending, {box.status_field: box.queued, "error": exc.message[:1000]})
        except DATABASE_ERRORS:
            logger.exception("%s %s: could not put it back in the queue", box.noun, pk)
            return box.outcome(pk, box.sending, detail=exc.message)
        return box.outcome(pk, box.queued, retry_in=policy.delay(attempt, exc), detail=exc.message)
    except Exception:
        # Our own bug after the request may have left: never risk a second send.
        logger.exception("%s %s: unexpected error while sending", box.noun, pk)
        return mark_unknown(box, pk, box.timed_out)
    return succeeded(box, pk, row, result)


# -- sweeping --------------------------------------------------------------------------------------
def sending_stale_after() -> timedelta:
    """A claimed row older than this has no live worker: an attempt waits at most
    MAX_INLINE_WAIT for its rate slot and PROVIDER_HTTP_TIMEOUT for the provider, then
    writes its outcome. SEND_SENDING_STALE_SECONDS overrides (default: twice that, plus a
    minute)."""
    configured = settings.SEND_SENDING_STALE_SECONDS
    if configured:
        return timedelta(seconds=configured)
    return timedelta(seconds=2 * (MAX_INLINE_WAIT + settings.PROVIDER_HTTP_TIMEOUT) + 60)


def sweep(box: Outbox, now: datetime | None = None) -> dict[str, list[int]]:
    """Re-enqueue queued sends whose task was lost (Redis restart, worker crash), and settle
    sends stuck in `sending` without a remote id (their worker died, or the database dropped
    the outcome): the kept answer is written, otherwise they become `unknown` for the history
    sync to reconcile. Returns the ids touched."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SEND_QUEUED_STALE_SECONDS)
    sf = box.status_field
    # cross-tenant: the beat sweeper looks at every tenant's queued sends.
    stale = list(
        box.pending()
        .filter(**{sf: box.queued, "remote_id": "", "created_at__lt": cutoff})
        .exclude(last_attempt_at__gte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for pk in stale:
        box.enqueue(pk)
    # cross-tenant: as above. Claimed rows whose answer is kept are finished at once; the
    # others once their worker surely is gone.
    kept = _kept_ids(box)
    stuck = list(
        box.pending()
        .filter(Q(pk__in=kept) | Q(last_attempt_at__lt=now - sending_stale_after()), remote_id="")
        .filter(**{sf: box.sending})
        .select_related("provider_account", "subaccount", "tenant")
        .order_by("pk")[:SWEEP_BATCH]
    )
    for pk in set(kept) - {row.pk for row in stuck}:
        forget_result(box, pk)  # written meanwhile (or reconciled by a sync)
    touched: dict[str, list[int]] = {"requeued": stale, "recovered": [], "unknown": []}
    for row in stuck:
        outcome = recover(box, row, box.redelivered)
        touched["unknown" if outcome.status == box.unknown else "recovered"].append(row.pk)
    return touched
