"""Write paths of the calls app outside the importers: copying recordings into storage, and
placing our own calls (`place_call`, run by `tasks.place_call_task` through `dial`)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from typing import Any

import phonenumbers
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import audit
from accounts.models import Tenant
from billing import limits
from billing.models import UsageKind
from billing.usage import UsageDelta, UsageKey, record_changes
from core.db import retry_on_conflict
from providers.adapters.errors import AuthFailed, NotSupported, ProviderError, Rejected
from providers.adapters.records import CallRequest, Capability
from providers.adapters.retry import DEFAULT_POLICY, RetryPolicy
from providers.connect import open_adapter
from providers.importing import owners
from providers.models import ProviderAccount

from .importers import PLACING, REQUESTED, file_extension, remote_recording
from .models import Call, CallState, Recording, recording_path

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
# Our calls use the same rules as our messages: validated before a row exists, idempotent by
# key, claimed by one worker, and never placed twice (an interrupted attempt is `unknown`).
# A claimed attempt is marked by raw_state PLACING on a call still `queued` with no remote id;
# REQUESTED: accepted without an id (Sipcentric click-to-dial), the sync brings it. Both are
# defined in .importers, which reconciles such rows with the provider's records.
MAX_CALL_TIMEOUT = 600


def _check_action(action: Any, region: str | None) -> tuple[dict[str, Any], list[str]]:
    from messaging.services import parse_number

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


def _check_caller(tenant: Tenant, account: ProviderAccount, value: str) -> tuple[str, Any, list[str]]:
    from messaging.services import held_number, parse_number

    value = (value or "").strip()
    if account.provider == "sipcentric" and re.fullmatch(r"\d{1,6}|(https?://|endpoints/)\S+", value):
        return value, None, []  # click-to-dial starts from a PBX endpoint (extension or URI)
    try:
        number = parse_number(value)
    except ValueError as exc:
        return value, None, [str(exc)]
    ours = held_number(tenant, account, number)
    if ours is None:
        return number, None, [f"{number} is not a number you hold on {account.name}."]
    return number, ours, []


def _call_hash(account: ProviderAccount, caller: str, to: str, action: dict, timeout: int) -> str:
    payload = {"account": account.pk, "from": caller, "to": to, "action": action, "timeout": timeout}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _call_usage(call: Call, sign: int) -> UsageDelta:
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
    return UsageDelta(key, count=sign, seconds=sign * (call.duration or 0), cost=sign * (call.cost or 0))


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
    Raises messaging.services.SendRejected / IdempotencyConflict or billing LimitExceeded;
    state changes then arrive by webhook and sync."""
    from messaging.services import IdempotencyConflict, SendRejected, check_account, parse_number

    errors: dict[str, list[str]] = defaultdict(list)
    errors["account"] += check_account(tenant, account, Capability.PLACE_CALL)
    if account is None or account.tenant_id != tenant.pk:
        raise SendRejected(errors)
    caller, number, caller_problems = _check_caller(tenant, account, from_number)
    errors["from"] += caller_problems
    region = None
    if caller.startswith("+"):
        region = phonenumbers.region_code_for_number(phonenumbers.parse(caller)) or None
    try:
        to_e164 = parse_number(to, region)
    except ValueError as exc:
        to_e164 = ""
        errors["to"].append(str(exc))
    clean_action, action_problems = _check_action(action, region)
    errors["action"] += action_problems
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_CALL_TIMEOUT:
        errors["timeout"].append(f"The ring timeout is 1 to {MAX_CALL_TIMEOUT} seconds.")
    if any(errors.values()):
        raise SendRejected(errors)
    request_hash = _call_hash(account, caller, to_e164, clean_action, timeout)

    def replay(existing: Call) -> Call:
        if (existing.raw or {}).get("request", {}).get("hash") != request_hash:
            raise IdempotencyConflict(idempotency_key)
        return existing

    if idempotency_key:
        existing = Call.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return replay(existing)
    root, sub = owners(account)
    # Calls count toward spend only (priced after they end), never the message cap; taken
    # before the call is stored, with no other lock held (see billing.limits).
    reservation = limits.reserve(tenant, subaccount=sub, cost=None, currency="", messages=0)
    try:
        with transaction.atomic():
            call = Call.objects.create(
                tenant=tenant,
                provider_account=root,
                subaccount=sub,
                number=number,
                idempotency_key=idempotency_key,
                direction="outbound",
                from_number=caller,
                to_number=to_e164,
                state=CallState.QUEUED,
                created_at=timezone.now(),
                actions=[clean_action],
                raw={"request": {"hash": request_hash, "action": clean_action, "timeout": timeout}},
            )
            call.tenant = tenant
            record_changes([_call_usage(call, +1)])
            audit.record(tenant, created_by, "call.place", call, to=to_e164)
            transaction.on_commit(partial(enqueue_call, call.pk))
    except IntegrityError:
        limits.release(tenant, reservation)
        existing = (
            Call.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first()
            if idempotency_key
            else None
        )
        if existing is None:
            raise
        return replay(existing)
    except BaseException:
        limits.release(tenant, reservation)
        raise
    return call


def enqueue_call(call_id: int) -> None:
    from .tasks import place_call_task

    place_call_task.delay(call_id)


@dataclass
class CallOutcome:
    call_id: int
    state: str
    retry_in: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"call": self.call_id, "state": self.state, "detail": self.detail}


def _urls(account: ProviderAccount) -> tuple[str, str]:
    """(status_url, answer_url): where the provider reports the call and asks what to do."""
    kinds = account.adapter_class.webhook_kinds
    status_url = next((account.webhook_url(k) for k in ("hangup", "call-status") if k in kinds), "")
    answer_url = ""
    if account.provider == "jambonz" and not (account.options or {}).get("application_sid"):
        answer_url = account.webhook_url("call")  # answers with the verbs of our action
    return status_url, answer_url


@retry_on_conflict
def _move(call_id: int, **values: Any) -> bool:
    """From the claimed attempt (queued, PLACING, no remote id) to `values`, with the rollup."""
    with transaction.atomic():
        call = (
            Call.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=call_id, state=CallState.QUEUED, raw_state=PLACING, remote_id="")
            .first()
        )
        if call is None:
            return False
        before = _call_usage(call, -1)
        for name, value in values.items():
            setattr(call, name, value)
        call.save(update_fields=[*values, "updated_at"])
        record_changes([before, _call_usage(call, +1)])
    return True


def dial(call_id: int, *, policy: RetryPolicy = DEFAULT_POLICY, sleep=time.sleep) -> CallOutcome:
    """One attempt at placing a queued call; the same claim/unknown/retry rules as a send."""
    from messaging.services import MAX_INLINE_WAIT, send_slot_wait

    call = Call.objects.select_related("provider_account", "subaccount").filter(pk=call_id).first()
    if call is None:
        return CallOutcome(call_id, "missing")
    if call.state == CallState.QUEUED and call.raw_state == PLACING and not call.remote_id:
        _move(call_id, state=CallState.UNKNOWN, raw_state="", raw={**call.raw, "error": INTERRUPTED})
        return CallOutcome(call_id, CallState.UNKNOWN, detail=INTERRUPTED)
    if call.state != CallState.QUEUED or call.raw_state or call.remote_id:
        return CallOutcome(call_id, call.state, detail="not queued; nothing to do")
    account = call.subaccount or call.provider_account
    wait = send_slot_wait(account)
    if wait > MAX_INLINE_WAIT:
        return CallOutcome(call_id, CallState.QUEUED, retry_in=wait, detail="waiting for the send rate")
    if wait:
        sleep(wait)
    claimed = Call.objects.filter(pk=call_id, state=CallState.QUEUED, raw_state="", remote_id="").update(
        raw_state=PLACING, send_attempts=F("send_attempts") + 1, last_attempt_at=timezone.now()
    )
    if not claimed:
        return CallOutcome(call_id, "skipped", detail="claimed by another worker")
    if ProviderAccount.Status.DELETING in (account.status, call.provider_account.status):
        detail = "The provider account is being deleted."
        _move(call_id, state=CallState.FAILED, raw_state="", raw={**(call.raw or {}), "error": detail})
        return CallOutcome(call_id, CallState.FAILED, detail=detail)
    attempt = call.send_attempts + 1
    request_data = (call.raw or {}).get("request", {})
    status_url, answer_url = _urls(account)
    request = CallRequest(
        from_number=call.from_number,
        to_number=call.to_number,
        action=request_data.get("action") or (call.actions[0] if call.actions else {}),
        timeout=int(request_data.get("timeout") or 60),
        status_url=status_url,
        answer_url=answer_url,
    )
    raw = dict(call.raw or {})
    # An earlier attempt's error is history once this one succeeds (failures set it again).
    raw.pop("error", None)
    try:
        with open_adapter(account) as adapter:
            result = adapter.place_call(request)
    except (Rejected, AuthFailed, NotSupported) as exc:
        _move(call_id, state=CallState.FAILED, raw_state="", raw={**raw, "error": exc.message})
        return CallOutcome(call_id, CallState.FAILED, detail=exc.message)
    except ProviderError as exc:
        from messaging.services import is_safe_to_retry

        if not is_safe_to_retry(exc):
            detail = f"{UNKNOWN_OUTCOME} ({exc.message})"
            _move(call_id, state=CallState.UNKNOWN, raw_state="", raw={**raw, "error": detail})
            return CallOutcome(call_id, CallState.UNKNOWN, detail=detail)
        if not policy.should_retry(attempt, exc):
            detail = f"Gave up after {attempt} attempts: {exc.message}"
            _move(call_id, state=CallState.FAILED, raw_state="", raw={**raw, "error": detail})
            return CallOutcome(call_id, CallState.FAILED, detail=detail)
        _move(call_id, raw_state="", raw={**raw, "error": exc.message})
        return CallOutcome(call_id, CallState.QUEUED, retry_in=policy.delay(attempt, exc), detail=exc.message)
    except Exception:
        logger.exception("Call %s: unexpected error while placing it", call_id)
        _move(call_id, state=CallState.UNKNOWN, raw_state="", raw={**raw, "error": UNKNOWN_OUTCOME})
        return CallOutcome(call_id, CallState.UNKNOWN, detail=UNKNOWN_OUTCOME)
    state = str(result.status) if result.remote_id else CallState.QUEUED
    values: dict[str, Any] = {
        "remote_id": result.remote_id[:64],
        "state": state,
        "raw_state": (result.raw_status or "")[:32] if result.remote_id else REQUESTED,
        "raw": {**raw, "placed": result.raw},
    }
    if result.cost is not None:
        values.update(cost=result.cost, currency=result.currency)
    try:
        _move(call_id, **values)
    except IntegrityError:
        # A webhook stored the call under its id before our answer landed: keep that row's history.
        _move(call_id, state=CallState.UNKNOWN, raw_state="", raw={**raw, "duplicate_of": result.remote_id})
        return CallOutcome(call_id, CallState.UNKNOWN, detail="already recorded by a webhook")
    return CallOutcome(call_id, state)


INTERRUPTED = "The call attempt was interrupted after it started; its outcome is unknown until a sync."
UNKNOWN_OUTCOME = "The provider did not answer; the call may have been placed."
