"""Delivering queued messages: the outbound layer (outbound.delivery: claim, send-rate slot,
adapter call, outcome; outbound.batch for first attempts) with messaging.outbox plugged in.
A send whose outcome cannot be known becomes `unknown` and is never resent: the next history
sync reconciles it (messaging.importers matches it by account, to, body and time)."""

from __future__ import annotations

import time
from typing import Any

from outbound import batch
from outbound import delivery as outbound_delivery
from outbound.delivery import Outcome
from providers.adapters.retry import DEFAULT_POLICY, RetryPolicy
from providers.models import ProviderAccount

from .outbox import OUTBOX

UNKNOWN_REDELIVERED = OUTBOX.redelivered
UNKNOWN_TIMEOUT = OUTBOX.timed_out


def deliver_message(message_id: int, *, policy: RetryPolicy = DEFAULT_POLICY, sleep=time.sleep) -> Outcome:
    """One attempt at sending a queued message (see outbound.delivery.deliver)."""
    return outbound_delivery.deliver(OUTBOX, message_id, policy=policy, sleep=sleep)


def send_queued(account_id: int) -> dict[str, Any]:
    """Send the account's queued messages in batches (first attempts; see outbound.batch)."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {"done": True, "missing": True}
    return batch.drain(OUTBOX, account)


def sweep_queued(now=None) -> dict[str, list[int]]:
    """Re-enqueue queued sends whose task was lost, and settle sends stuck in `sending`
    without a remote id (see outbound.delivery.sweep). Returns the ids touched."""
    return outbound_delivery.sweep(OUTBOX, now)
