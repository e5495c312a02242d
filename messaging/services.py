"""Sending one SMS or MMS: the write path for our own outbound messages.

`queue_message` validates everything it can before a row exists (messaging.checks: numbers,
sender rules and the account through outbound.checks; encoding and parts), takes the usage
limits (billing.limits.reserve) in their own short transaction, then inserts the `queued`
Message with its idempotency key and kicks the account's batch sender after commit.
Bulk sends are messaging.bulk, price estimates messaging.estimates, and delivering what
is queued messaging.delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import nullcontext
from functools import partial
from typing import Any

from django.db import connection, transaction

from accounts import audit
from accounts.models import AuditLog, Tenant, User
from billing import limits
from billing.limits import LimitExceeded, Reservation
from billing.usage import ledger_insert
from core.db import RowInserter, prepared_cursor, retry_on_conflict
from outbound.checks import (
    IdempotencyConflict,
    SendRejected,
    check_idempotency_key,
    insert_once,
    parse_number,
    stored_for_key,
)
from providers.adapters.records import PriceEstimate
from providers.models import ProviderAccount

from .checks import Checked, check_common, request_hash_of
from .estimates import estimate_for
from .models import BulkSend, DirectionChoice, Message, MessageMedia, Status
from .outbox import kick_drain, usage

logger = logging.getLogger(__name__)

__all__ = [
    "IdempotencyConflict",
    "LimitExceeded",
    "SendRejected",
    "queue_message",
]


def reserve(tenant: Tenant, checked: Checked, estimate: PriceEstimate | None, count: int = 1) -> Reservation:
    """Take `count` messages at the estimated price from the limits (their own short
    transaction, before the messages are stored: see billing.limits)."""
    return limits.reserve(
        tenant,
        subaccount=checked.subaccount,
        cost=estimate.cost * count if estimate else None,
        currency=estimate.currency if estimate else "",
        messages=count,
    )


def message_row(
    tenant: Tenant,
    checked: Checked,
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


def _no_media():
    """An evaluated, empty media queryset, as a prefetch leaves it: rendering the new message
    reads it without a query (an unevaluated `none()` is still compiled when iterated)."""
    media = MessageMedia.objects.none()
    media._result_cache, media._prefetch_done = [], True
    return media


# A send's three rows, inserted by one statement (see _store). The INSERTs are built once
# from the models, not compiled by the ORM on every send.
_INSERT_MESSAGE = RowInserter(Message)
_INSERT_AUDIT = RowInserter(AuditLog, expressions={"object_id": "(SELECT id::text FROM new_message)"})


@retry_on_conflict
def _store(message: Message, created_by: Any) -> Message:
    """Insert the queued message with its ledger entry and audit row, and enqueue its send
    once that is committed. Raises IntegrityError on an idempotency-key race.

    One statement (data-modifying CTEs) instead of a transaction of three INSERTs: a
    statement is atomic by itself, so all three rows are stored or none, in one round trip
    instead of five (BEGIN, three INSERTs, COMMIT). The rows are the ones the usual write
    paths build (`billing.usage.ledger_insert`, `accounts.audit.entry`); the audit row names
    the message by the id its INSERT returns."""
    ctes, params = [f"new_message AS ({_INSERT_MESSAGE.sql})"], _INSERT_MESSAGE.params(message)
    ledger = ledger_insert([usage(message, +1)])
    if ledger is not None:
        ctes.append(f"ledger AS ({ledger[0]})")
        params += ledger[1]
    entry = audit.entry(
        message.tenant, created_by, "message.queue", message, to=message.to_number, kind=message.kind
    )
    params += _INSERT_AUDIT.params(entry)
    sql = f"WITH {', '.join(ctes)} {_INSERT_AUDIT.sql} RETURNING (SELECT id FROM new_message), id"  # noqa: S608
    # In a caller's transaction, a savepoint keeps that usable after an idempotency race.
    scope = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with scope, prepared_cursor() as cursor:
        cursor.execute(sql, params)
        message_id, entry_id = cursor.fetchone()
    _INSERT_MESSAGE.inserted(message, message_id)
    _INSERT_AUDIT.inserted(entry, entry_id)
    message._prefetched_objects_cache = {"media": _no_media()}  # a new message has none
    # robust: a broker that is down must not turn a stored message into a 500 (the sweeper
    # enqueues it once SEND_QUEUED_STALE_SECONDS have passed). Outside a transaction this
    # runs at once: the statement has committed.
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
    checked, errors = check_common(tenant, account, from_number, body, kind, media)
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
    new_hash = request_hash_of(checked, to_e164)
    estimate = estimate_for(checked)
    try:
        reservation = reserve(tenant, checked, estimate)
    except LimitExceeded:
        # A replay of a send stored earlier is answered, not refused by the cap it counts in.
        existing = stored_for_key(Message, tenant, idempotency_key, new_hash)
        if existing is None:
            raise
        return existing
    # A replay (the key already stored) is found by the insert's unique constraint, which
    # gives the reservation back: no lookup on the path every new send takes.
    message = message_row(
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
