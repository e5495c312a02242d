"""Write paths of the calls app outside the importers: copying recordings into storage, and
placing our own calls (`place_call`, run by `tasks.place_call_task` through `dial`, which is
the outbound layer's attempt with calls.outbox plugged in)."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections import defaultdict
from functools import partial
from typing import Any

from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import audit
from accounts.models import Tenant
from billing import limits
from billing.usage import record_changes
from core.db import atomic_with_retry
from outbound import delivery
from outbound.checks import (
    SendRejected,
    check_account,
    check_caller,
    check_idempotency_key,
    insert_once,
    parse_number,
    region_of,
    request_hash,
    stored_for_key,
)
from outbound.delivery import Outcome
from providers.adapters.records import Capability
from providers.adapters.retry import DEFAULT_POLICY, RetryPolicy
from providers.connect import open_adapter
from providers.ingest import owners
from providers.models import ProviderAccount

from .importers import file_extension, remote_recording
from .models import Call, CallState, Direction, Recording, recording_path
from .outbox import INTERRUPTED, OUTBOX, UNKNOWN_OUTCOME, enqueue_call, usage

__all__ = ["INTERRUPTED", "UNKNOWN_OUTCOME", "dial", "place_call", "sweep_calls"]

logger = logging.getLogger(__name__)

SPOOL_BYTES = 4 * 1024 * 1024  # larger recordings go to a temporary file, never all into memory


def fetch_recording(recording: Recording) -> Recording:
    """Stream the audio from the provider into storage. Raises the adapter's errors; the
    caller records them (see `record_fetch_failure`)."""
    account = recording.subaccount or recording.provider_account
    with open_adapter(account) as adapter, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        size = 0
        for chunk in adapter.download_recording(remote_recording(recording)):
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        old_name = recording.file.name
        name = recording.file.storage.save(
            recording_path(recording, f"{recording.remote_id}{file_extension(recording.content_type)}"),
            File(spool),
        )
    Recording.objects.filter(pk=recording.pk).update(
        file=name,
        size=size,
        fetch_status=Recording.FetchStatus.FETCHED,
        fetch_error="",
        fetch_attempts=F("fetch_attempts") + 1,
        fetched_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if old_name and old_name != name:
        recording.file.storage.delete(old_name)
    recording.refresh_from_db()
    return recording


def record_fetch_failure(recording_id: int, error: str, *, final: bool) -> None:
    """`pending` while retries remain, `failed` once we give up."""
    Recording.objects.filter(pk=recording_id).exclude(fetch_status=Recording.FetchStatus.FETCHED).update(
        fetch_status=Recording.FetchStatus.FAILED if final else Recording.FetchStatus.PENDING,
        fetch_error=error[:1000],
        fetch_attempts=F("fetch_attempts") + 1,
        updated_at=timezone.now(),
    )


# -- placing calls --------------------------------------------------------------------------------
# Our calls use the same rules as our messages (the outbound layer): validated before a row
# exists, idempotent by key, claimed by one worker (state `placing`), and never placed twice
# (an interrupted attempt is `unknown`). A call accepted without an id is `requested`; the
# importers reconcile both with the provider's records.
MAX_CALL_TIMEOUT = 600


def _check_action(action: Any, region: str | None) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(action, dict) or len(action) != 1:
        return {}, ['Give exactly one action: {"connect": "+46…"} or {"play": "https://…"}.']
    ((verb, value),) = action.items()
    if verb == "connect":
        try:
            return {"connect": parse_number(str(value), region)}, []
        except ValueError as exc:
            return {}, [f"connect: {exc}"]
    if verb == "play":
        if not isinstance(value, str) or not re.match(r"^https?://\S+$", value):
            return {}, ["play: give the http(s) URL of the audio to play."]
        return {"play": value}, []
    return {}, [f"Unknown action {verb!r}: use connect or play."]


def place_call(
    tenant: Tenant,
    *,
    account: ProviderAccount,
    from_number: str,
    to: str,
    action: dict[str, Any],
    timeout: int = 60,
    idempotency_key: str | None = None,
    created_by: Any = None,
) -> Call:
    """Validate, check the account's limits, store the call as `queued` and enqueue it.
    Raises outbound.checks.SendRejected / IdempotencyConflict or billing LimitExceeded;
    state changes then arrive by webhook and sync."""
    errors: dict[str, list[str]] = defaultdict(list)
    errors["account"] += check_account(tenant, account, Capability.PLACE_CALL)
    if account is None or account.tenant_id != tenant.pk:
        raise SendRejected(errors)
    caller, number, caller_problems = check_caller(tenant, account, from_number)
    errors["from"] += caller_problems
    region = region_of(caller)
    try:
        to_e164 = parse_number(to, region)
    except ValueError as exc:
        to_e164 = ""
        errors["to"].append(str(exc))
    clean_action, action_problems = _check_action(action, region)
    errors["action"] += action_problems
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_CALL_TIMEOUT:
        errors["timeout"].append(f"The ring timeout is 1 to {MAX_CALL_TIMEOUT} seconds.")
    errors["idempotency_key"] += check_idempotency_key(idempotency_key)
    if any(errors.values()):
        raise SendRejected(errors)
    new_hash = request_hash(
        {"account": account.pk, "from": caller, "to": to_e164, "action": clean_action, "timeout": timeout}
    )
    existing = stored_for_key(Call, tenant, idempotency_key, new_hash)
    if existing is not None:
        return existing
    root, sub = owners(account)
    # Calls count toward spend only (priced after they end), never the message cap; taken
    # before the call is stored, with no other lock held (see billing.limits).
    reservation = limits.reserve(tenant, subaccount=sub, cost=None, currency="", messages=0)
    call = Call(
        tenant=tenant,
        provider_account=root,
        subaccount=sub,
        number=number,
        idempotency_key=idempotency_key,
        direction=Direction.OUTBOUND,
        from_number=caller,
        to_number=to_e164,
        state=CallState.QUEUED,
        created_at=timezone.now(),
        actions=[clean_action],
        request_hash=new_hash,
        raw={"request": {"action": clean_action, "timeout": timeout}},
    )
    return insert_once(
        partial(_store_call, call, created_by),
        release=partial(limits.release, tenant, reservation),
        model=Call,
        tenant=tenant,
        key=idempotency_key,
        new_hash=new_hash,
    )


@atomic_with_retry
def _store_call(call: Call, created_by: Any) -> Call:
    """Insert the queued call with its ledger entry and audit row; enqueue it once committed.
    Raises IntegrityError on an idempotency-key race."""
    call.save(force_insert=True)
    record_changes([usage(call, +1)])
    audit.record(call.tenant, created_by, "call.place", call, to=call.to_number)
    # robust: a broker that is down must not turn a stored call into a 500 (the sweeper
    # enqueues it once SEND_QUEUED_STALE_SECONDS have passed).
    transaction.on_commit(partial(enqueue_call, call.pk), robust=True)
    return call


def dial(call_id: int, *, policy: RetryPolicy = DEFAULT_POLICY, sleep=time.sleep) -> Outcome:
    """One attempt at placing a queued call (see outbound.delivery.deliver)."""
    return delivery.deliver(OUTBOX, call_id, policy=policy, sleep=sleep)


def sweep_calls(now=None) -> dict[str, list[int]]:
    """Re-enqueue queued calls whose task was lost, and settle calls stuck in `placing`
    (see outbound.delivery.sweep)."""
    return delivery.sweep(OUTBOX, now)
