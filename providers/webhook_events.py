"""Applying the webhook events the receiver stored (providers.webhooks).

The applier takes pending events in batches (`FOR UPDATE SKIP LOCKED`, so several workers
share them), parses them again with the adapter and hands each event type to its domain
handler — a batch handler where one is registered (delivery reports: one UPDATE per batch)
— then marks the batch in one statement. `apply_event` applies one event (retries, the
admin's re-apply).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from contextlib import ExitStack
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from accounts.rls import tenant_context

from . import connect
from .adapters.base import Adapter
from .adapters.errors import ProviderError
from .adapters.records import EventType, InboundEvent, WebhookRequest
from .importing import batch_handler_for, handler_for
from .models import ProviderAccount, WebhookEvent

logger = logging.getLogger(__name__)

UNMATCHED = "unmatched: no row changed (unknown id or already up to date); the next sync reconciles"

APPLY_BATCH = 500


def pending_ids(limit: int = 1) -> list[int]:
    # cross-tenant: the applier serves every tenant's events.
    return list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )


def apply_pending(limit: int = APPLY_BATCH) -> int:
    """Apply up to `limit` pending events in one transaction; returns how many were taken."""
    with transaction.atomic():
        # cross-tenant: as above; SKIP LOCKED lets several appliers share the backlog.
        batch = list(
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account", "account__parent", "account__tenant")
            .filter(status=WebhookEvent.Status.PENDING)
            .order_by("id")[:limit]
        )
        if not batch:
            return 0
        outcomes = _apply_batch(batch)
        _mark(batch, outcomes)
    return len(batch)


def _apply_batch(batch: list[WebhookEvent]) -> dict[int, tuple[str, str]]:
    """event id -> (status, note), applying the batch's events grouped by account and type."""
    parsed: dict[int, list[InboundEvent]] = {}
    outcomes: dict[int, tuple[str, str]] = {}
    with ExitStack() as stack:
        adapters: dict[int, Adapter] = {}  # one per account: building one costs more than parsing
        for event in batch:
            try:
                adapter = adapters.get(event.account_id)
                if adapter is None:
                    adapter = adapters[event.account_id] = stack.enter_context(
                        connect.open_adapter(event.account, record=False)
                    )
                parsed[event.pk] = adapter.parse_webhook(event.kind, stored_request(event))
            except ProviderError as exc:
                outcomes[event.pk] = (WebhookEvent.Status.FAILED, exc.message)
    # (account, type) -> [(event id, inbound)]; batch handlers first, the rest one by one.
    counts: dict[int, list[int]] = {pk: [0, 0] for pk in parsed}  # applied, unmatched
    groups: dict[tuple[int, EventType], list[tuple[int, InboundEvent]]] = defaultdict(list)
    accounts = {e.pk: e.account for e in batch}
    for event_id, inbounds in parsed.items():
        for inbound in inbounds:
            if inbound.type != EventType.IGNORED:
                groups[(accounts[event_id].pk, inbound.type)].append((event_id, inbound))
    by_account = {e.account.pk: e.account for e in batch}
    for (account_id, event_type), items in groups.items():
        account = by_account[account_id]
        batch_handler = batch_handler_for(event_type)
        results: list[bool] | None = None
        if batch_handler is not None:
            try:
                with tenant_context(account.tenant_id), transaction.atomic():
                    results = batch_handler(account, [inbound for _, inbound in items])
            except Exception:
                logger.exception(
                    "Batch of %d %s events failed; applying them one by one", len(items), event_type
                )
        if results is None:
            results = [_apply_one(event_id, account, inbound, outcomes) for event_id, inbound in items]
        for (event_id, _), changed in zip(items, results, strict=True):
            if event_id in counts:
                counts[event_id][0 if changed else 1] += 1
    for event_id, (applied, unmatched) in counts.items():
        if event_id in outcomes:
            continue
        if applied == unmatched == 0:
            outcomes[event_id] = (WebhookEvent.Status.IGNORED, "")
        else:
            outcomes[event_id] = (WebhookEvent.Status.APPLIED, UNMATCHED if unmatched and not applied else "")
    return outcomes


def _apply_one(
    event_id: int, account: ProviderAccount, inbound: InboundEvent, outcomes: dict[int, tuple[str, str]]
) -> bool:
    handler = handler_for(inbound.type)
    if handler is None:
        outcomes[event_id] = (WebhookEvent.Status.FAILED, f"No handler registered for {inbound.type}")
        return False
    try:
        with tenant_context(account.tenant_id), transaction.atomic():
            return handler(account, inbound)
    except ProviderError as exc:
        outcomes[event_id] = (WebhookEvent.Status.FAILED, exc.message)
    except Exception as exc:
        logger.exception("Applying webhook event %s failed", event_id)
        outcomes[event_id] = (
            WebhookEvent.Status.FAILED,
            f"Internal error while applying ({type(exc).__name__}).",
        )
    return False


def _mark(batch: list[WebhookEvent], outcomes: dict[int, tuple[str, str]]) -> None:
    ids = [e.pk for e in batch]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {WebhookEvent._meta.db_table} e
               SET status = v.status, error = v.error, attempts = e.attempts + 1,
                   applied_at = CASE WHEN v.status = 'failed' THEN NULL ELSE now() END
              FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, status, error)
             WHERE e.id = v.id
            """,  # noqa: S608 - the table name is ours
            [ids, [outcomes[i][0] for i in ids], [outcomes[i][1] for i in ids]],
        )


def stored_request(event: WebhookEvent) -> WebhookRequest:
    """The WebhookRequest an event was received as, rebuilt from its row."""
    return WebhookRequest(
        method=event.method,
        path=urlsplit(event.account.webhook_url(event.kind)).path,
        headers=dict(event.headers),
        query=dict(event.query),
        body=event.body.encode("utf-8"),
        remote_addr=event.remote_addr or "",
        content_type=(event.headers.get("content-type") or "").split(";")[0].strip(),
    )


def apply_event(event_id: int) -> str:
    """Parse a stored event and apply it through the domain handlers. Idempotent: the
    handlers upsert and never move a status backwards. Returns the event's new status."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return "busy-or-missing"
        if event.status in (WebhookEvent.Status.APPLIED, WebhookEvent.Status.IGNORED):
            return event.status
        event.attempts += 1
        try:
            with transaction.atomic():  # a failing handler rolls back its own writes only
                status, note = _dispatch(event)
        except ProviderError as exc:
            status, note = WebhookEvent.Status.FAILED, exc.message
        except LookupError as exc:  # no handler registered for an event type
            status, note = WebhookEvent.Status.FAILED, str(exc)
        except Exception as exc:
            logger.exception("Applying webhook event %s failed", event.pk)
            status, note = (
                WebhookEvent.Status.FAILED,
                f"Internal error while applying ({type(exc).__name__}).",
            )
        event.status, event.error = status, note
        event.applied_at = timezone.now() if status != WebhookEvent.Status.FAILED else None
        event.save(update_fields=["status", "error", "applied_at", "attempts"])
        return status


def _dispatch(event: WebhookEvent) -> tuple[str, str]:
    with connect.open_adapter(event.account, record=False) as adapter:
        events = adapter.parse_webhook(event.kind, stored_request(event))
    applied = unmatched = 0
    for inbound in events:
        if inbound.type == EventType.IGNORED:
            continue
        handler = handler_for(inbound.type)
        if handler is None:
            raise LookupError(f"No handler registered for {inbound.type}")
        if handler(event.account, inbound):
            applied += 1
        else:
            unmatched += 1
    if applied == unmatched == 0:
        return WebhookEvent.Status.IGNORED, ""
    return WebhookEvent.Status.APPLIED, UNMATCHED if unmatched and not applied else ""
