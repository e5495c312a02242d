"""Sending SMS and MMS: the write path for our own outbound messages.

`queue_message` validates everything it can before a row exists (numbers, sender rules
and the account through outbound.checks; encoding and parts here), takes the usage limits
(billing.limits.reserve) in their own short transaction, then inserts the `queued` Message
with its idempotency key and enqueues `messaging.tasks.send_message` after commit.
`deliver_message` is the task's body: the outbound layer's attempt (outbound.delivery:
claim, send-rate slot, adapter call, outcome) with messaging.outbox plugged in. A send
whose outcome cannot be known becomes `unknown` and is never resent: the next history sync
reconciles it (messaging.importers matches it by account, to, body and time).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import audit
from accounts.models import Tenant, User
from billing import limits
from billing.limits import LimitExceeded, Reservation
from billing.usage import record_changes
from core.db import atomic_with_retry
from numbers.models import PhoneNumber
from outbound import batch, delivery
from outbound.checks import (
    IdempotencyConflict,
    SendRejected,
    check_account,
    check_idempotency_key,
    check_sender,
    insert_once,
    parse_number,
    region_of,
    request_hash,
    stored_for_key,
)
from outbound.delivery import Outcome
from providers.adapters.errors import ProviderError
from providers.adapters.records import Capability, PriceEstimate, SmsRequest
from providers.adapters.retry import DEFAULT_POLICY, RetryPolicy
from providers.connect import open_adapter
from providers.importing import owners
from providers.models import ProviderAccount

from .models import BulkSend, DirectionChoice, Encoding, Kind, Message, MessageMedia, Status
from .outbox import OUTBOX, kick_drain, usage

logger = logging.getLogger(__name__)

__all__ = [
    "IdempotencyConflict",
    "LimitExceeded",
    "NoEstimate",
    "SendRejected",
    "bulk_send",
    "check_account",
    "deliver_message",
    "estimate_message",
    "parse_number",
    "queue_message",
    "sms_parts",
    "sweep_queued",
]


# -- errors -------------------------------------------------------------------------------------
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
    region = region_of(sender)
    checked = _Checked(account, root, sub, kind, sender, number, body, encoding, parts, media, region)
    return checked, errors


def _request_hash(checked: _Checked, to: str) -> str:
    return request_hash(
        {
            "account": checked.account.pk,
            "kind": checked.kind,
            "from": checked.sender,
            "to": to,
            "body": checked.body,
            "media": checked.media,
        }
    )


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
    record_changes([usage(message, +1)])
    audit.record(
        message.tenant, created_by, "message.queue", message, to=message.to_number, kind=message.kind
    )
    # robust: a broker that is down must not turn a stored message into a 500 (the sweeper
    # enqueues it once SEND_QUEUED_STALE_SECONDS have passed).
    transaction.on_commit(partial(kick_drain, message.provider_account_id), robust=True)
    return message


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
    if key_problems := check_idempotency_key(idempotency_key):
        raise SendRejected({"idempotency_key": key_problems})
    new_hash = _request_hash(checked, to_e164)
    estimate = _estimate(checked)
    try:
        reservation = _reserve(tenant, checked, estimate)
    except LimitExceeded:
        # A replay of a send stored earlier is answered, not refused by the cap it counts in.
        existing = stored_for_key(Message, tenant, idempotency_key, new_hash)
        if existing is None:
            raise
        return existing
    # A replay (the key already stored) is found by the insert's unique constraint, which
    # gives the reservation back: no lookup on the path every new send takes.
    message = _message_row(
        tenant, checked, to_e164, new_hash, idempotency_key, created_by, estimate, reservation
    )
    if status_url:
        message.raw = {"status_url": status_url}
    return insert_once(
        partial(_store, message, created_by),
        release=partial(limits.release, tenant, reservation),
        model=Message,
        tenant=tenant,
        key=idempotency_key,
        new_hash=new_hash,
    )


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
    record_changes(usage(message, +1) for message in messages)
    audit.record(tenant, created_by, "message.bulk_send", bulk, queued=len(valid), invalid=len(invalid))
    transaction.on_commit(partial(enqueue_bulk, checked.root.pk), robust=True)
    return bulk


def enqueue_bulk(account_id: int) -> None:
    """A bulk's messages go out through the account's batch senders: SEND_BULK_SENDERS of
    them at once (they claim disjoint batches), whatever is already draining."""
    from .tasks import send_queued

    for _ in range(settings.SEND_BULK_SENDERS):
        send_queued.delay(account_id)


# -- estimates -------------------------------------------------------------------------------------
def estimate_message(account: ProviderAccount, from_number: str, to: str, body: str) -> PriceEstimate:
    """The provider's dry run where it has one (Capability.DRY_RUN), otherwise our average cost per part
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


# -- delivering (the outbound layer, with messaging.outbox plugged in) ---------------------------
UNKNOWN_REDELIVERED = OUTBOX.redelivered
UNKNOWN_TIMEOUT = OUTBOX.timed_out


def deliver_message(message_id: int, *, policy: RetryPolicy = DEFAULT_POLICY, sleep=time.sleep) -> Outcome:
    """One attempt at sending a queued message (see outbound.delivery.deliver)."""
    return delivery.deliver(OUTBOX, message_id, policy=policy, sleep=sleep)


def send_queued(account_id: int) -> dict[str, Any]:
    """Send the account's queued messages in batches (first attempts; see outbound.batch)."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {"done": True, "missing": True}
    return batch.drain(OUTBOX, account)


def sweep_queued(now=None) -> dict[str, list[int]]:
    """Re-enqueue queued sends whose task was lost, and settle sends stuck in `sending`
    without a remote id (see outbound.delivery.sweep). Returns the ids touched."""
    return delivery.sweep(OUTBOX, now)
