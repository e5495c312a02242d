"""Bulk sends: one message per valid recipient of a list or a CSV upload, stored set-based
and sent by the account's batch senders."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts import audit
from accounts.models import Tenant, User
from billing import limits
from billing.limits import Reservation
from billing.usage import record_changes
from core.db import atomic_with_retry
from core.queue import task as queue_task
from outbound.checks import SendRejected, parse_number
from providers.adapters.records import PriceEstimate
from providers.models import ProviderAccount

from .checks import Checked, check_common, request_hash_of
from .estimates import estimate_for
from .models import BulkSend, Kind, Message
from .outbox import usage
from .services import message_row, reserve


@dataclass
class BulkRow:
    line: int
    value: str


def read_recipients(recipients: list[str] | IO | bytes | str) -> list[BulkRow]:
    """Recipients from a list, or from CSV (a file, bytes or text): the first column, or a
    column named to/number/phone/recipient when there is a header. Lines count from 1."""
    if isinstance(recipients, list | tuple):
        return [BulkRow(i, str(v)) for i, v in enumerate(recipients, start=1)]
    content = recipients.read() if hasattr(recipients, "read") else recipients
    if isinstance(content, bytes):
        content = content.decode("utf-8-sig", "replace")
    rows = list(csv.reader(io.StringIO(str(content))))
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
    checked, errors = check_common(tenant, account, from_number, body, Kind.SMS, ())
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
            {"recipients": ["No valid recipient."], "rows": [str(r["reason"]) for r in invalid[:20]]}
        )
    key = (
        idempotency_key
        or hashlib.sha256(json.dumps([account.pk, checked.sender, body, sorted(valid)]).encode()).hexdigest()
    )
    existing = BulkSend.objects.for_tenant(tenant).filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    estimate = estimate_for(checked)
    total = reserve(tenant, checked, estimate, count=len(valid))
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
    checked: Checked,
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
        message_row(
            tenant,
            checked,
            number,
            request_hash_of(checked, number),
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
    send_queued = queue_task("messaging.tasks.send_queued")
    for _ in range(settings.SEND_BULK_SENDERS):
        send_queued.delay(account_id)
