"""How a `Message` goes through the outbound layer (outbound.delivery): its rollup delta, its
limits reservation, the adapter call and what the provider's answer writes."""

from __future__ import annotations

import json
import zoneinfo
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from billing import limits
from billing.limits import Reservation
from billing.usage import UsageDelta, UsageKey, record_changes
from core.queue import task as queue_task
from outbound.batch import should_kick
from outbound.delivery import Outbox
from providers.adapters.base import Adapter
from providers.adapters.records import MessageStatus, SendResult, SmsRequest
from providers.models import ProviderAccount

from .models import DirectionChoice, Kind, Message, Status


def usage(message: Message, sign: int) -> UsageDelta:
    day = timezone.localtime(message.created_at, zoneinfo.ZoneInfo(message.tenant.timezone)).date()
    key = UsageKey(
        message.tenant_id,
        message.provider_account_id,
        message.subaccount_id,
        message.kind,
        message.direction,
        day,
        message.currency or "",
    )
    cost = sign * (message.cost or Decimal(0))
    return UsageDelta(key, count=sign, parts=sign * (message.parts or 0), cost=cost)


def finish_reservation(message: Message, *, sent: bool, cost: Decimal | None = None) -> None:
    """Settle (sent) or release (never sent) the message's usage reservation."""
    finish_reservations([(message, sent, cost)])


def finish_reservations(rows: list[tuple[Message, bool, Decimal | None]]) -> None:
    """Settle (sent) or release (never sent) the reservations of (message, sent, cost) rows,
    each exactly once: one statement clears them and returns what each held, so whoever
    clears a row's reservation first (a send, the sweeper, a sync's reconciliation) is the
    one that settles it. Rows whose reservation holds nothing cost no further query."""
    if not rows:
        return
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH old AS (
                SELECT id, billing_reservation FROM {table}
                 WHERE id = ANY(%s) AND billing_reservation IS NOT NULL
                 ORDER BY id FOR UPDATE
            )
            UPDATE {table} m SET billing_reservation = NULL FROM old WHERE m.id = old.id
            RETURNING m.id, old.billing_reservation
            """,  # noqa: S608 - the table name is ours
            [[row.pk for row, _, _ in rows]],
        )
        taken = dict(cursor.fetchall())
    for row, sent, cost in rows:
        data = taken.get(row.pk)
        if not data:
            continue
        reservation = Reservation.from_dict(json.loads(data) if isinstance(data, str) else data)
        if sent:
            limits.settle(row.tenant, reservation, cost, row.currency)
        else:
            limits.release(row.tenant, reservation)


def settle_reconciled(message_ids: list[int]) -> None:
    """After a sync matched our sends to the provider's records: settle their reservations
    at the provider's price (release them when the provider failed the message). Run after
    the sync commits, so the counter row is never locked by a sync transaction."""
    rows = Message.objects.select_related("tenant").filter(
        pk__in=message_ids, billing_reservation__isnull=False
    )
    finish_reservations(
        [(m, m.status != Status.FAILED, None if m.cost_estimated else m.cost) for m in rows]
    )


def status_url(message: Message, account: ProviderAccount) -> str:
    """Where the provider reports delivery: the request's own URL, else our webhook."""
    override = (message.raw or {}).get("status_url")
    if override:
        return override
    kind = account.adapter_class.delivery_report_kind
    return account.webhook_url(kind) if kind else ""


def enqueue_send(message_id: int, countdown: float | None = None) -> None:
    """The message's own send task (retries, the sweeper, a batch's hand-back)."""
    queue_task("messaging.tasks.send_message").apply_async((message_id,), countdown=countdown)


def kick_drain(account_id: int) -> None:
    """After a new message is committed: make sure a drainer sends the account's queue
    (at most one enqueued per SEND_KICK_MS; see outbound.batch)."""
    if should_kick(account_id):
        queue_task("messaging.tasks.send_queued").delay(account_id)


class MessageOutbox(Outbox):
    model = Message
    noun = "message"
    remote_id_length = 128
    redelivered = (
        "The send was interrupted (worker stopped) after it started; the outcome is unknown until "
        "the next history sync."
    )
    timed_out = (
        "The provider did not answer; the message may have been sent. The next history sync will tell."
    )

    def usage(self, row: Message, sign: int) -> UsageDelta:
        return usage(row, sign)

    def record_usage(self, deltas: list[UsageDelta]) -> None:
        record_changes(deltas)

    def send(self, adapter: Adapter, row: Message, account: ProviderAccount) -> SendResult:
        request = SmsRequest(
            from_number=row.from_number,
            to_number=row.to_number,
            body=row.body,
            status_url=status_url(row, account),
            media_urls=list(row.media_urls or []),
            reference=row.idempotency_key or "",
        )
        return adapter.send_mms(request) if row.kind == Kind.MMS else adapter.send_sms(request)

    def success(self, row: Message, result: SendResult) -> dict[str, Any]:
        status = str(result.status)
        if status in (MessageStatus.QUEUED, MessageStatus.UNKNOWN):
            status = Status.SENDING  # accepted by the provider, not yet handed on
        values: dict[str, Any] = {
            "status": status,
            "raw_status": (result.raw_status or "")[:64],
            "error": "",
        }
        if status in (Status.SENT, Status.DELIVERED):
            values["sent_at"] = timezone.now()
        if status == Status.FAILED:
            values["error"] = "The provider refused the message."
        if result.parts:
            values["parts"] = result.parts
        if result.cost is not None:
            values.update(cost=result.cost, currency=result.currency, cost_estimated=False)
        return values

    def finish(self, row: Message, *, sent: bool, cost: Decimal | None = None) -> None:
        finish_reservation(row, sent=sent, cost=cost)

    def finish_many(self, rows: list[tuple[Message, bool, Decimal | None]]) -> None:
        finish_reservations(rows)

    def enqueue(self, pk: int, countdown: float | None = None) -> None:
        enqueue_send(pk, countdown)

    def pending(self):
        return Message.objects.filter(direction=DirectionChoice.OUTBOUND)


OUTBOX = MessageOutbox()
