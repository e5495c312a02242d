"""How a `Call` of ours goes through the outbound layer (outbound.delivery): its rollup
delta, the adapter call, and what the provider's answer writes. Calls reserve nothing that
a send settles (they are priced after they end), so `finish` has nothing to do."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from typing import Any

from billing.models import UsageKind
from billing.usage import UsageDelta, UsageKey, record_changes
from core.queue import task as queue_task
from outbound.delivery import Outbox
from providers.adapters.base import Adapter
from providers.adapters.records import CallRequest, SendResult
from providers.models import ProviderAccount

from .models import Call, CallState, Direction

UNKNOWN_OUTCOME = "The provider did not answer; the call may have been placed."
INTERRUPTED = "The call attempt was interrupted after it started; its outcome is unknown until a sync."


def usage(call: Call, sign: int) -> UsageDelta:
    zone = zoneinfo.ZoneInfo(call.tenant.timezone)
    key = UsageKey(
        call.tenant_id,
        call.provider_account_id,
        call.subaccount_id,
        UsageKind.CALL,
        call.direction,
        call.created_at.astimezone(zone).date(),
        call.currency or "",
    )
    cost = sign * (call.cost or Decimal(0))
    return UsageDelta(key, count=sign, seconds=sign * (call.duration or 0), cost=cost)


def urls(account: ProviderAccount) -> tuple[str, str]:
    """(status_url, answer_url): where the provider reports the call and asks what to do."""
    facts = account.adapter_class
    status_url = account.webhook_url(facts.call_status_kind) if facts.call_status_kind else ""
    answer_url = ""
    if facts.answer_webhook_kind and facts.needs_answer_url(account.options or {}):
        answer_url = account.webhook_url(facts.answer_webhook_kind)  # answers with our action's verbs
    return status_url, answer_url


def enqueue_call(call_id: int, countdown: float | None = None) -> None:
    queue_task("calls.tasks.place_call_task").apply_async((call_id,), countdown=countdown)


class CallOutbox(Outbox):
    model = Call
    noun = "call"
    status_field = "state"
    sending = CallState.PLACING
    remote_id_length = 64
    redelivered = INTERRUPTED
    timed_out = UNKNOWN_OUTCOME

    def usage(self, row: Call, sign: int) -> UsageDelta:
        return usage(row, sign)

    def record_usage(self, deltas: list[UsageDelta]) -> None:
        record_changes(deltas)

    def send(self, adapter: Adapter, row: Call, account: ProviderAccount) -> SendResult:
        request_data = (row.raw or {}).get("request", {})
        status_url, answer_url = urls(account)
        return adapter.place_call(
            CallRequest(
                from_number=row.from_number,
                to_number=row.to_number,
                action=request_data.get("action") or (row.actions[0] if row.actions else {}),
                timeout=int(request_data.get("timeout") or 60),
                status_url=status_url,
                answer_url=answer_url,
            )
        )

    def success(self, row: Call, result: SendResult) -> dict[str, Any]:
        # Accepted without an id (click-to-dial): `requested` until the sync brings the call.
        values: dict[str, Any] = {
            "state": str(result.status) if result.remote_id else CallState.REQUESTED,
            "raw_state": (result.raw_status or "")[:32] if result.remote_id else "",
            "raw": {**(row.raw or {}), "placed": result.raw},
            "error": "",  # an earlier attempt's error is history now
        }
        if result.cost is not None:
            values.update(cost=result.cost, currency=result.currency)
        return values

    def duplicate(self, row: Call, result: SendResult) -> dict[str, Any]:
        # A webhook stored the call under its id before our answer landed: keep that row's history.
        return {"raw": {**(row.raw or {}), "duplicate_of": result.remote_id}}

    def enqueue(self, pk: int, countdown: float | None = None) -> None:
        enqueue_call(pk, countdown)

    def pending(self):
        return Call.objects.filter(direction=Direction.OUTBOUND)


OUTBOX = CallOutbox()
