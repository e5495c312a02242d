"""Sending SMS and MMS: the write path for our own outbound messages.

`queue_message` validates everything it can before a row exists (numbers, sender rules,
encoding and parts, capability, account state), then in one transaction takes the usage
limits (billing.limits.reserve), inserts the `queued` Message with its idempotency key and
enqueues `messaging.tasks.send_message` after commit. `deliver_message` is the task's
body: claim (queued -> sending, one winner), wait for the account's send-rate slot, call
the adapter, and record the outcome. A send whose outcome cannot be known (the request may
have reached the provider) becomes `unknown` and is never resent: the next history sync
reconciles it (messaging.importers matches it by account, to, body and time).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cache, partial
from typing import IO, Any

import phonenumbers
import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts import audit
from accounts.models import Tenant, User
from billing import limits
from billing.limits import LimitExceeded, Reservation
from billing.usage import UsageDelta, UsageKey, record_changes
from core.db import atomic_with_retry, retry_on_conflict
from numbers.models import PhoneNumber
from providers.adapters.errors import (
    AuthFailed,
    NotSupported,
    ProviderError,
    RateLimited,
    Rejected,
    Unavailable,
)
from providers.adapters.records import Capability, MessageStatus, PriceEstimate, SendResult, SmsRequest
from providers.adapters.retry import DEFAULT_POLICY, RetryPolicy
from providers.connect import open_adapter
from providers.importing import owners
from providers.models import ProviderAccount

from .models import BulkSend, DirectionChoice, Encoding, Kind, Message, MessageMedia, Status

logger = logging.getLogger(__name__)

__all__ = [
    "IdempotencyConflict",
    "LimitExceeded",
    "NoEstimate",
    "SendRejected",
    "bulk_send",
    "deliver_message",
    "estimate_message",
    "queue_message",
    "sms_parts",
    "sweep_queued",
]


# -- errors -------------------------------------------------------------------------------------
class SendRejected(Exception):
    """Invalid input: every problem found, per field, each message fit to show a user."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {k: list(v) for k, v in errors.items() if v}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


class IdempotencyConflict(Exception):
    """The idempotency key was used before for a different request."""

    def __init__(self, key: str):
        super().__init__(f"Idempotency key {key!r} was already used for a different request.")
        self.key = key


class NoEstimate(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# -- encoding and parts -------------------------------------------------------------------------
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each (escape + char)


def sms_parts(body: str) -> tuple[str, int]:
    """(encoding, parts) as a handset counts them: GSM-7 160 septets or 153 per part of a
    concatenated message, extension characters counting two; otherwise UCS-2, 70 or 67
    UTF-16 units per part (a character outside the BMP takes two)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in body)
        single, multi, encoding = 160, 153, Encoding.GSM7
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, Encoding.UCS2
    if units <= single:
        return str(encoding), 1
    return str(encoding), -(-units // multi)


# -- validation ----------------------------------------------------------------------------------
SENDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")
# Providers whose API documents alphanumeric sender ids (3-11 letters and digits, a letter first).
ALPHANUMERIC_SENDERS = frozenset({"46elks", "callr"})


def parse_number(value: str, region: str | None = None) -> str:
    """E.164, or ValueError with a message naming the value."""
    text = (value or "").strip()
    if not text:
        raise ValueError("A phone number is required.")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{text!r} is not a phone number; use international format, e.g. +46701234567."
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{text!r} is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _region_of(number: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or None
    except phonenumbers.NumberParseException:
        return None


def check_account(tenant: Tenant, account: ProviderAccount | None, capability: Capability) -> list[str]:
    """Why this account cannot do it now (empty when it can)."""
    if account is None or account.tenant_id != tenant.pk:
        return ["Unknown provider account."]  # another tenant's account is not revealed
    problems = []
    if not tenant.active:
        problems.append("This tenant is not active.")
    if account.status != ProviderAccount.Status.ACTIVE:
        problems.append(f"Provider account {account.name} is {account.get_status_display().lower()}.")
    elif account.parent_id and account.parent.status != ProviderAccount.Status.ACTIVE:
        problems.append(f"The parent account of {account.name} is not active.")
    if not account.can(capability):
        what = {
            Capability.SEND_SMS: "send SMS",
            Capability.SEND_MMS: "send MMS",
            Capability.PLACE_CALL: "place calls",
        }.get(capability, str(capability))
        problems.append(f"{account.adapter_class.name} accounts cannot {what}.")
    return problems


def held_number(tenant: Tenant, account: ProviderAccount, number: str) -> PhoneNumber | None:
    root, _ = owners(account)
    return (
        PhoneNumber.objects.for_tenant(tenant)
        .filter(provider_account=root, number=number, active=True)
        .order_by("id")
        .first()
    )


def check_sender(
    tenant: Tenant, account: ProviderAccount, sender: str, kind: str
) -> tuple[str, PhoneNumber | None, list[str]]:
    """(normalised sender, our number or None, problems). Per provider: 46elks and Callr take
    an alphanumeric sender id for SMS; every provider takes a number the tenant holds there."""
    sender = (sender or "").strip()
    if not sender:
        return sender, None, ["A sender is required."]
    alphanumeric_ok = account.provider in ALPHANUMERIC_SENDERS and kind == Kind.SMS
    if SENDER_ID.match(sender) and not sender.isdigit():
        if alphanumeric_ok:
            return sender, None, []
        if account.provider == "46elks" and kind == Kind.MMS and sender == "noreply":
            return sender, None, []
        reason = "MMS" if kind == Kind.MMS else f"{account.adapter_class.name} messages"
        return sender, None, [f"{reason} must be sent from a number you hold, not a sender id."]
    try:
        number = parse_number(sender)
    except ValueError:
        rule = (
            "a sender id of 3-11 letters and digits starting with a letter, or a number you hold"
            if alphanumeric_ok
            else "a number you hold at this provider, in international format"
        )
        return sender, None, [f"{sender!r} is not a valid sender: use {rule}."]
    ours = held_number(tenant, account, number)
    if ours is None:
        return number, None, [f"{number} is not a number you hold on {account.name}."]
    return number, ours, []


def check_body(body: str, kind: str, media: list[str]) -> tuple[str, int, list[str]]:
    encoding, parts = sms_parts(body or "")
    problems = []
    if kind == Kind.MMS:
        if not (body or "").strip() and not media:
            problems.append("An MMS needs a text or an image.")
        return encoding, 1, problems
    if not (body or "").strip():
        problems.append("The message is empty.")
    elif parts > settings.SMS_MAX_PARTS:
        problems.append(
            f"The message needs {parts} parts ({'GSM-7' if encoding == Encoding.GSM7 else 'UCS-2'}); "
            f"at most {settings.SMS_MAX_PARTS} are allowed."
        )
    return encoding, parts, problems


@dataclass
class _Checked:
    account: ProviderAccount
    root: ProviderAccount
    subaccount: ProviderAccount | None
    kind: str
    sender: str
    number: PhoneNumber | None
    body: str
    encoding: str
    parts: int
    media: list[str]
    region: str | None


def _check_common(
    tenant: Tenant, account: ProviderAccount, from_number: str, body: str, kind: str, media: Iterable[str]
) -> tuple[_Checked | None, dict[str, list[str]]]:
    """Everything but the recipient; (checked, errors)."""
    errors: dict[str, list[str]] = defaultdict(list)
    media = [str(m) for m in media or ()]
    if kind not in Kind.values:
        errors["kind"].append(f"Unknown kind {kind!r}: use sms or mms.")
        return None, errors
    if kind == Kind.SMS and media:
        errors["media"].append("Images need an MMS (kind=mms).")
    capability = Capability.SEND_MMS if kind == Kind.MMS else Capability.SEND_SMS
    account_problems = check_account(tenant, account, capability)
    errors["account"] += account_problems
    if account_problems and account is not None and account.tenant_id != tenant.pk:
        return None, errors  # nothing else about a foreign account is looked at
    encoding, parts, body_problems = check_body(body, kind, media)
    errors["body"] += body_problems
    if account is None:
        return None, errors
    sender, number, sender_problems = check_sender(tenant, account, from_number, kind)
    errors["from"] += sender_problems
    root, sub = owners(account)
    region = _region_of(sender) if sender.startswith("+") else None
    checked = _Checked(account, root, sub, kind, sender, number, body, encoding, parts, media, region)
    return checked, errors


def _request_hash(checked: _Checked, to: str) -> str:
    payload = {
        "account": checked.account.pk,
        "kind": checked.kind,
        "from": checked.sender,
        "to": to,
        "body": checked.body,
        "media": checked.media,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# -- rollups ----------------------------------------------------------------------------------------
def _usage(message: Message, sign: int) -> UsageDelta:
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
    return UsageDelta(key, count=sign, parts=sign * (message.parts or 0), cost=sign * (message.cost or 0))


# -- queueing ---------------------------------------------------------------------------------------
ESTIMATE_CACHE_SECONDS = 60


def _history_estimate(account: ProviderAccount, parts: int) -> PriceEstimate | None:
    """Average cost per part of this account's priced outbound messages of the last 30 days,
    in their most used currency. Cached for a minute: every send asks, and the answer is an
    average over a month."""
    root, sub = owners(account)
    key = f"send-estimate:{root.pk}:{sub.pk if sub else 0}"
    per_part = django_cache.get(key)
    if per_part is None:
        per_part = _cost_per_part(root, sub) or ()
        django_cache.set(key, per_part, ESTIMATE_CACHE_SECONDS)
    if not per_part:
        return None
    cost, currency = per_part
    return PriceEstimate(
        cost=(cost * parts).quantize(Decimal("0.0001")), currency=currency, parts=parts, source="history"
    )


def _cost_per_part(root: ProviderAccount, sub: ProviderAccount | None) -> tuple[Decimal, str] | None:
    rows = (
        Message.objects.for_tenant(root.tenant_id)
        .filter(
            provider_account=root,
            direction=DirectionChoice.OUTBOUND,
            kind=Kind.SMS,
            created_at__gte=timezone.now() - timedelta(days=30),
            cost__isnull=False,
            cost_estimated=False,
            parts__gt=0,
        )
        .exclude(currency="")
    )
    if sub is not None:
        rows = rows.filter(subaccount=sub)
    totals = list(
        rows.values("currency").annotate(cost=Sum("cost"), parts=Sum("parts")).order_by("-parts")[:1]
    )
    if not totals or not totals[0]["parts"]:
        return None
    return totals[0]["cost"] / totals[0]["parts"], totals[0]["currency"]


def _replay(existing: Message, request_hash: str, key: str) -> Message:
    if existing.request_hash != request_hash:
        raise IdempotencyConflict(key)
    return existing


def _find_by_key(tenant: Tenant, key: str) -> Message | None:
    return Message.objects.for_tenant(tenant).filter(idempotency_key=key).first()


def _estimate(checked: _Checked) -> PriceEstimate | None:
    return _history_estimate(checked.account, checked.parts) if checked.kind == Kind.SMS else None


def _reserve(
    tenant: Tenant, checked: _Checked, estimate: PriceEstimate | None, count: int = 1
) -> Reservation:
    """Take `count` messages at the estimated price from the limits (their own short
    transaction, before the messages are stored: see billing.limits)."""
    return limits.reserve(
        tenant,
        subaccount=checked.subaccount,
        cost=estimate.cost * count if estimate else None,
        currency=estimate.currency if estimate else "",
        messages=count,
    )


def _message_row(
    tenant: Tenant,
    checked: _Checked,
    to: str,
    request_hash: str,
    idempotency_key: str | None,
    created_by: Any,
    estimate: PriceEstimate | None,
    reservation: Reservation,
    bulk: BulkSend | None = None,
) -> Message:
    user = created_by if isinstance(created_by, User) else None
    message = Message(
        tenant=tenant,
        kind=checked.kind,
        direction=DirectionChoice.OUTBOUND,
        from_number=checked.sender,
        to_number=to,
        body=checked.body,
        status=Status.QUEUED,
        parts=checked.parts,
        encoding=checked.encoding,
        cost=estimate.cost if estimate else None,
        currency=estimate.currency if estimate else "",
        cost_estimated=estimate is not None,
        provider_account=checked.root,
        subaccount=checked.subaccount,
        number=checked.number,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        media_urls=checked.media,
        billing_reservation=reservation.to_dict(),
        bulk_send=bulk,
        created_by=user,
    )
    message.tenant = tenant
    return message


@atomic_with_retry
def _store(message: Message, created_by: Any) -> Message:
    """Insert the queued message with its ledger entry and audit row, and enqueue its send
    once that is committed. Raises IntegrityError on an idempotency-key race."""
    message.save(force_insert=True)
    message._prefetched_objects_cache = {"media": MessageMedia.objects.none()}  # a new message has none
    record_changes([_usage(message, +1)])
    audit.record(
        message.tenant, created_by, "message.queue", message, to=message.to_number, kind=message.kind
    )
    # robust: a broker that is down must not turn a stored message into a 500 (the sweeper
    # enqueues it once SEND_QUEUED_STALE_SECONDS have passed).
    transaction.on_commit(partial(enqueue_send, message.pk), robust=True)
    return message


def enqueue_send(message_id: int) -> None:
    from .tasks import send_message

    send_message.delay(message_id)


def queue_message(
    tenant: Tenant,
    *,
    account: ProviderAccount,
    from_number: str,
    to: str,
    body: str,
    kind: str = "sms",
    media: Iterable[str] = (),
    idempotency_key: str | None = None,
    created_by: Any = None,
    status_url: str | None = None,
) -> Message:
    """Validate, take the usage limits, store the message as `queued` and enqueue its send.

    Raises SendRejected (all problems per field), LimitExceeded (its message says which
    limit) or IdempotencyConflict; on any of them nothing is stored or sent. The same key
    with the same request returns the message queued the first time.
    `status_url` overrides where delivery reports go (default: our webhook for the account).
    """
    checked, errors = _check_common(tenant, account, from_number, body, kind, media)
    to_e164 = ""
    if checked is not None:
        try:
            to_e164 = parse_number(to, checked.region if checked else None)
        except ValueError as exc:
            errors["to"].append(str(exc))
    if any(errors.values()) or checked is None:
        raise SendRejected(errors)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 128):
        raise SendRejected({"idempotency_key": ["An idempotency key has 1 to 128 characters."]})
    request_hash = _request_hash(checked, to_e164)
    if idempotency_key:
        existing = _find_by_key(tenant, idempotency_key)
        if existing is not None:
            return _replay(existing, request_hash, idempotency_key)
    estimate = _estimate(checked)
    reservation = _reserve(tenant, checked, estimate)
    message = _message_row(
        tenant, checked, to_e164, request_hash, idempotency_key, created_by, estimate, reservation
    )
    if status_url:
        message.raw = {"status_url": status_url}
    try:
        return _store(message, created_by)
    except IntegrityError:
        limits.release(tenant, reservation)
        # A concurrent request with the same key won the unique constraint.
        existing = _find_by_key(tenant, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _replay(existing, request_hash, idempotency_key)
    except BaseException:
        limits.release(tenant, reservation)
        raise


# -- bulk ------------------------------------------------------------------------------------------
@dataclass
class BulkRow:
    line: int
    value: str


def read_recipients(recipients: list[str] | IO | bytes | str) -> list[BulkRow]:
    """Recipients from a list, or from CSV (a file, bytes or text): the first column, or a
    column named to/number/phone/recipient when there is a header. Lines count from 1."""
    if isinstance(recipients, list | tuple):
        return [BulkRow(i, str(v)) for i, v in enumerate(recipients, start=1)]
    if hasattr(recipients, "read"):
        recipients = recipients.read()
    if isinstance(recipients, bytes):
        recipients = recipients.decode("utf-8-sig", "replace")
    rows = list(csv.reader(io.StringIO(recipients)))
    column = 0
    start = 0
    if rows:
        header = [c.strip().lower() for c in rows[0]]
        named = [i for i, c in enumerate(header) if c in ("to", "number", "phone", "recipient", "msisdn")]
        if named:
            column, start = named[0], 1
    out = []
    for i, row in enumerate(rows[start:], start=start + 1):
        if not any(c.strip() for c in row):
            continue  # blank lines are not rows
        out.append(BulkRow(i, row[column] if column < len(row) else ""))
    return out


def bulk_send(
    tenant: Tenant,
    account: ProviderAccount,
    from_number: str,
    body: str,
    recipients: list[str] | IO | bytes | str,
    *,
    idempotency_key: str | None = None,
    created_by: Any = None,
) -> BulkSend:
    """One message per valid recipient (duplicates sent once), invalid rows reported with
    their line and reason. Each message's key derives from the bulk's key (by default a
    hash of account, sender, body and recipients), so submitting the same bulk again
    creates nothing new. Raises SendRejected when the shared parts (account, sender,
    body) are invalid or no row is valid; LimitExceeded when the limits cannot take them all."""
    checked, errors = _check_common(tenant, account, from_number, body, Kind.SMS, ())
    if any(errors.values()) or checked is None:
        raise SendRejected(errors)
    rows = read_recipients(recipients)
    valid: dict[str, int] = {}
    invalid = []
    for row in rows:
        try:
            number = parse_number(row.value, checked.region)
        except ValueError as exc:
            invalid.append({"line": row.line, "value": row.value[:64], "reason": str(exc)})
            continue
        if number in valid:
            invalid.append({"line": row.line, "value": row.value[:64], "reason": "Duplicate recipient."})
            continue
        valid[number] = row.line
    if not valid:
        raise SendRejected(
            {"recipients": ["No valid recipient."], "rows": [r["reason"] for r in invalid[:20]]}
        )
    key = (
        idempotency_key
        or hashlib.sha256(json.dumps([account.pk, checked.sender, body, sorted(valid)]).encode()).hexdigest()
    )
    existing = BulkSend.objects.for_tenant(tenant).filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    estimate = _estimate(checked)
    total = _reserve(tenant, checked, estimate, count=len(valid))
    share = Reservation(total.period, total.currency, total.cost / len(valid), 1, total.subaccount_id)
    try:
        bulk = _store_bulk(tenant, checked, key, valid, len(rows), invalid, created_by, estimate, share)
    except IntegrityError:
        limits.release(tenant, total)
        existing = BulkSend.objects.for_tenant(tenant).filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing
    except BaseException:
        limits.release(tenant, total)
        raise
    return bulk


BULK_INSERT_BATCH = 2000


@atomic_with_retry
def _store_bulk(
    tenant: Tenant,
    checked: _Checked,
    key: str,
    valid: dict[str, int],
    rows: int,
    invalid: list[dict[str, Any]],
    created_by: Any,
    estimate: PriceEstimate | None,
    share: Reservation,
) -> BulkSend:
    """The bulk and all its messages, set-based (batched multi-row INSERTs), one ledger
    entry and one audit row; after commit one task fans the sends out in chunks."""
    user = created_by if isinstance(created_by, User) else None
    bulk = BulkSend.objects.create(
        tenant=tenant,
        account=checked.account,
        created_by=user,
        from_number=checked.sender,
        body=checked.body,
        idempotency_key=key,
        total=rows,
        queued=len(valid),
        invalid_rows=invalid,
    )
    messages = [
        _message_row(
            tenant,
            checked,
            number,
            _request_hash(checked, number),
            hashlib.sha256(f"{key}:{number}".encode()).hexdigest(),
            created_by,
            estimate,
            share,
            bulk,
        )
        for number in valid
    ]
    Message.objects.bulk_create(messages, batch_size=BULK_INSERT_BATCH)
    record_changes(_usage(message, +1) for message in messages)
    audit.record(tenant, created_by, "message.bulk_send", bulk, queued=len(valid), invalid=len(invalid))
    transaction.on_commit(partial(enqueue_bulk, bulk.pk))
    return bulk


def enqueue_bulk(bulk_id: int) -> None:
    from .tasks import fan_out_bulk

    fan_out_bulk.delay(bulk_id)


FAN_OUT_CHUNK = 1000


def fan_out_bulk(bulk_id: int, after_id: int = 0) -> tuple[int, int | None]:
    """Enqueue the sends of the next chunk of a bulk's queued messages; returns (enqueued,
    the id to continue after, or None when the bulk is fully enqueued)."""
    ids = list(
        Message.objects.filter(bulk_send_id=bulk_id, status=Status.QUEUED, pk__gt=after_id)
        .order_by("pk")
        .values_list("pk", flat=True)[:FAN_OUT_CHUNK]
    )
    for message_id in ids:
        enqueue_send(message_id)
    return len(ids), (ids[-1] if len(ids) == FAN_OUT_CHUNK else None)


# -- estimates -------------------------------------------------------------------------------------
def estimate_message(account: ProviderAccount, from_number: str, to: str, body: str) -> PriceEstimate:
    """The provider's dry run where it has one (46elks), otherwise our average cost per part
    from this account's recent history. Raises SendRejected on invalid input and NoEstimate
    (with the reason) when neither is possible."""
    tenant = account.tenant
    checked, errors = _check_common(tenant, account, from_number, body, Kind.SMS, ())
    try:
        to_e164 = parse_number(to, checked.region if checked else None)
    except ValueError as exc:
        errors["to"].append(str(exc))
    if any(errors.values()) or checked is None:
        raise SendRejected(errors)
    if account.can(Capability.DRY_RUN):
        with open_adapter(account) as adapter:
            try:
                return adapter.estimate_sms(SmsRequest(checked.sender, to_e164, body))
            except ProviderError as exc:
                logger.info("Dry run failed for account %s: %s", account.pk, exc.message)
                dry_run_error = exc.message
    else:
        dry_run_error = ""
    estimate = _history_estimate(account, checked.parts)
    if estimate is None:
        reason = "No priced messages were sent through this account in the last 30 days"
        if dry_run_error:
            reason += f", and the provider's dry run failed: {dry_run_error}"
        raise NoEstimate(reason + ".")
    return estimate


# -- send rate --------------------------------------------------------------------------------------
# Reserve the account's next send slot atomically: each caller gets its own slot, spaced
# 1/rate seconds apart, on Redis' clock (shared by every worker host).
_SLOT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nxt)
redis.call('SET', KEYS[1], tostring(at + tonumber(ARGV[1])), 'PX', ARGV[2])
return tostring(at - now)
"""


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def send_slot_wait(account: ProviderAccount) -> float:
    """Seconds until this caller may send through `account` (0 when it may now)."""
    rate = account.send_rate or 0
    if rate <= 0:
        return 0.0
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "sb")
    root, _ = owners(account)  # subaccounts share their root's connection
    interval = 1.0 / rate
    ttl_ms = max(1000, int(interval * 1000 * 10))
    wait = _redis().eval(_SLOT_SCRIPT, 1, f"{prefix}:sendrate:{root.pk}", repr(interval), ttl_ms)
    return max(0.0, float(wait))


# Longer waits give the worker back: the task is retried when its slot comes.
MAX_INLINE_WAIT = 10.0


# -- delivering ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    message_id: int
    status: str
    retry_in: float | None = None  # the task should retry after this many seconds
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message_id, "status": self.status, "detail": self.detail}


UNKNOWN_REDELIVERED = (
    "The send was interrupted (worker stopped) after it started; the outcome is unknown until "
    "the next history sync."
)
UNKNOWN_TIMEOUT = (
    "The provider did not answer; the message may have been sent. The next history sync will tell."
)
# A 502/503 answer means the provider (or its front door) did not take the request; any other
# failure after the request left (timeout, dropped connection, 500, 504, unreadable answer)
# may hide a send that happened.
NOT_TAKEN_STATUSES = frozenset({502, 503})


def is_safe_to_retry(exc: ProviderError) -> bool:
    if isinstance(exc, RateLimited):
        return True
    if isinstance(exc, Unavailable):
        return not exc.request_sent or exc.status in NOT_TAKEN_STATUSES
    return False


def _status_url(message: Message, account: ProviderAccount) -> str:
    override = (message.raw or {}).get("status_url")
    if override:
        return override
    kinds = account.adapter_class.webhook_kinds
    for kind in ("dlr", "events"):  # 46elks delivery reports, Callr events
        if kind in kinds:
            return account.webhook_url(kind)
    return ""


@retry_on_conflict
def _update(message_id: int, expect: str, **values: Any) -> Message | None:
    """Move a message on from status `expect` (a conditional update, with the rollup
    difference); None when it was no longer in that status."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=message_id, status=expect)
            .first()
        )
        if message is None:
            return None
        before = _usage(message, -1)
        for name, value in values.items():
            setattr(message, name, value)
        message.save(update_fields=[*values, "updated_at"])
        record_changes([before, _usage(message, +1)])
    return message


def _finish_reservation(message: Message, *, cost: Decimal | None = None, sent: bool) -> None:
    """Settle (sent) or release (never sent) the usage reservation, exactly once."""
    taken = Message.objects.filter(pk=message.pk, billing_reservation__isnull=False).update(
        billing_reservation=None
    )
    if not taken or not message.billing_reservation:
        return
    reservation = Reservation.from_dict(message.billing_reservation)
    if sent:
        limits.settle(message.tenant, reservation, cost, message.currency)
    else:
        limits.release(message.tenant, reservation)


def _fail(message_id: int, error: str, raw_status: str = "") -> Outcome:
    message = _update(
        message_id, Status.SENDING, status=Status.FAILED, error=error[:1000], raw_status=raw_status
    )
    if message is not None:
        _finish_reservation(message, sent=False)
    return Outcome(message_id, Status.FAILED, detail=error)


def _unknown(message_id: int, error: str) -> Outcome:
    _update(message_id, Status.SENDING, status=Status.UNKNOWN, error=error)
    return Outcome(message_id, Status.UNKNOWN, detail=error)


def _succeeded(message_id: int, result: SendResult) -> Outcome:
    status = str(result.status)
    if status in (MessageStatus.QUEUED, MessageStatus.UNKNOWN):
        status = Status.SENDING  # accepted by the provider, not yet handed on
    values: dict[str, Any] = {
        "remote_id": result.remote_id[:128],
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
    try:
        message = _update(message_id, Status.SENDING, **values)
    except IntegrityError:
        # A sync stored this remote id first (it raced our answer): keep ours for reconciliation.
        logger.warning("Message %s: remote id %s already stored by a sync", message_id, result.remote_id)
        return _unknown(message_id, UNKNOWN_TIMEOUT)
    if message is not None:
        if status == Status.FAILED:
            _finish_reservation(message, sent=False)
        else:
            _finish_reservation(message, cost=result.cost, sent=True)
    return Outcome(message_id, status, extra={"remote_id": result.remote_id})


def deliver_message(message_id: int, *, policy: RetryPolicy = DEFAULT_POLICY, sleep=time.sleep) -> Outcome:
    """One attempt at sending a queued message. Never sends a message twice: the claim
    (queued -> sending) has one winner, and a message found already `sending` means an
    earlier attempt died mid-send, so it becomes `unknown` instead of being sent again."""
    message = Message.objects.select_related("provider_account", "subaccount").filter(pk=message_id).first()
    if message is None:
        return Outcome(message_id, "missing")
    if message.status == Status.SENDING and not message.remote_id:
        return _unknown(message_id, UNKNOWN_REDELIVERED)
    if message.status != Status.QUEUED:
        return Outcome(message_id, message.status, detail="not queued; nothing to do")
    account = message.subaccount or message.provider_account
    wait = send_slot_wait(account)
    if wait > MAX_INLINE_WAIT:
        return Outcome(message_id, Status.QUEUED, retry_in=wait, detail="waiting for the send rate")
    if wait:
        sleep(wait)
    claimed = Message.objects.filter(pk=message_id, status=Status.QUEUED).update(
        status=Status.SENDING,
        send_attempts=F("send_attempts") + 1,
        last_attempt_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not claimed:
        return Outcome(message_id, "skipped", detail="claimed by another worker")
    if ProviderAccount.Status.DELETING in (account.status, message.provider_account.status):
        return _fail(message_id, "The provider account is being deleted.")
    attempt = message.send_attempts + 1
    request = SmsRequest(
        from_number=message.from_number,
        to_number=message.to_number,
        body=message.body,
        status_url=_status_url(message, account),
        media_urls=list(message.media_urls or []),
        reference=message.idempotency_key or "",
    )
    try:
        with open_adapter(account) as adapter:
            result = adapter.send_mms(request) if message.kind == Kind.MMS else adapter.send_sms(request)
    except (Rejected, AuthFailed, NotSupported) as exc:
        return _fail(message_id, exc.message)
    except ProviderError as exc:
        if not is_safe_to_retry(exc):
            return _unknown(message_id, f"{UNKNOWN_TIMEOUT} ({exc.message})")
        if not policy.should_retry(attempt, exc):
            return _fail(message_id, f"Gave up after {attempt} attempts: {exc.message}")
        _update(message_id, Status.SENDING, status=Status.QUEUED, error=exc.message[:1000])
        return Outcome(message_id, Status.QUEUED, retry_in=policy.delay(attempt, exc), detail=exc.message)
    except Exception:
        # Our own bug after the request may have left: never risk a second send.
        logger.exception("Message %s: unexpected error while sending", message_id)
        return _unknown(message_id, UNKNOWN_TIMEOUT)
    return _succeeded(message_id, result)


# -- sweeping ---------------------------------------------------------------------------------------
SENDING_STALE_AFTER = timedelta(minutes=30)


def sweep_queued(now=None) -> dict[str, list[int]]:
    """Re-enqueue queued sends whose task was lost (Redis restart, worker crash), and mark
    sends stuck in `sending` without a remote id as `unknown` (their worker died and no
    redelivery came). Returns the ids touched."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SEND_QUEUED_STALE_SECONDS)
    # cross-tenant: the beat sweeper looks at every tenant's queued sends.
    stale = list(
        Message.objects.filter(
            status=Status.QUEUED, direction=DirectionChoice.OUTBOUND, created_at__lt=cutoff
        )
        .exclude(last_attempt_at__gte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    for message_id in stale:
        enqueue_send(message_id)
    # cross-tenant: as above.
    stuck = list(
        Message.objects.filter(
            status=Status.SENDING,
            direction=DirectionChoice.OUTBOUND,
            remote_id="",
            last_attempt_at__lt=now - SENDING_STALE_AFTER,
        ).values_list("pk", flat=True)[:1000]
    )
    for message_id in stuck:
        _unknown(message_id, UNKNOWN_REDELIVERED)
    return {"requeued": stale, "unknown": stuck}
