"""Webhooks in: `/hooks/<provider>/<token>/<kind>/`.

The view does the least work that keeps an event durable: the account from a short
in-process cache (by URL token), the adapter's signature / source check, one INSERT of the
raw `WebhookEvent` (committed before we answer), and a kick of the applier — a Redis
`SET NX` that enqueues `apply_pending_webhooks` only when none was kicked in the last
moments. The applier takes pending events in batches (`FOR UPDATE SKIP LOCKED`, so several
workers share them), parses them again with the adapter and hands each event type to its
domain handler — a batch handler where one is registered (delivery reports: one UPDATE per
batch) — then marks the batch in one statement. `apply_event` applies one event (retries,
the admin's re-apply).

Answers:
- unknown token → 403, unknown kind → 404, failed verification → 403; nothing stored.
- a replay (same account, kind and event key) → 200 and nothing new.
- authenticated but unparseable → stored as failed and answered 200: the raw body is kept
  for a fix and a re-apply from the admin, and a non-2xx would only make the provider
  retry a body that can never parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.rls import activate_request_tenant, rls_bypass, tenant_context
from core.queue import task as queue_task
from core.redis import client as redis_client
from core.redis import key as redis_key

from . import connect
from .adapters import Adapter
from .adapters.errors import ProviderError, WebhookRejected
from .adapters.records import EventType, InboundEvent, WebhookRequest
from .importing import batch_handler_for, handler_for
from .models import ProviderAccount, WebhookEvent

logger = logging.getLogger(__name__)

# Never stored: credentials some providers send with their callbacks.
UNSTORED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
UNMATCHED = "unmatched: no row changed (unknown id or already up to date); the next sync reconciles"


def _event_key(events: list[InboundEvent], request: WebhookRequest) -> str:
    ids = [e.event_id for e in events if e.event_id]
    if len(ids) == 1 and len(events) == 1 and len(ids[0]) <= 128:
        return ids[0]
    raw = request.body or urlencode(sorted(request.query.items())).encode()
    return hashlib.sha256(raw).hexdigest()


def _webhook_request(request: HttpRequest) -> WebhookRequest:
    return WebhookRequest(
        method=request.method or "POST",
        path=request.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.GET.items()),
        body=request.body,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        content_type=request.content_type or "",
    )


def _answer(events: list[InboundEvent]) -> HttpResponse:
    reply = next((e.reply for e in events if e.reply is not None), None)
    return JsonResponse(reply, safe=False) if reply is not None else HttpResponse(status=200)


_accounts: dict[tuple[str, str], tuple[float, ProviderAccount, Adapter]] = {}


def account_for_token(provider: str, token: str) -> tuple[ProviderAccount, Adapter] | None:
    """The account a webhook URL names and an adapter to verify and parse with (it never
    calls the provider), cached in-process for a few seconds: a burst of delivery reports
    would otherwise read the same row and build the same adapter for every request. A
    disabled, deleted or re-keyed account is seen at most WEBHOOK_ACCOUNT_CACHE_SECONDS late."""
    now = time.monotonic()
    hit = _accounts.get((provider, token))
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    # cross-tenant: the secret token in the URL is what identifies the account (and tenant).
    with rls_bypass("webhook token lookup", level=logging.DEBUG):
        account = ProviderAccount.objects.filter(provider=provider, webhook_token=token).first()
    if account is None:
        _accounts.pop((provider, token), None)
        return None
    # No provider lookups while the provider waits for our answer (an adapter that looks
    # up an inbound event's id does it when the event is applied, in the worker).
    adapter = connect.adapter_for(account, record=False, webhook_lookup=False)
    if len(_accounts) > 10_000:
        _accounts.clear()
    _accounts[(provider, token)] = (now + settings.WEBHOOK_ACCOUNT_CACHE_SECONDS, account, adapter)
    return account, adapter


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, provider: str, token: str, kind: str) -> HttpResponse:
    found = account_for_token(provider, token)
    if found is None:
        return HttpResponseForbidden()
    account, adapter = found
    activate_request_tenant(account.tenant_id)
    if account.status == ProviderAccount.Status.DELETING:
        # Its rows are being removed: accept and drop, so the provider stops retrying.
        return HttpResponse(status=200)
    hook = _webhook_request(request)
    if kind not in adapter.webhook_kinds:
        return HttpResponse(status=404)
    try:
        adapter.verify_webhook(hook)
    except WebhookRejected as exc:
        logger.warning("Webhook rejected for account %s (%s): %s", account.pk, kind, exc.message)
        return HttpResponseForbidden()
    try:
        events = adapter.parse_webhook(kind, hook)
        error = ""
    except ProviderError as exc:
        events, error = [], exc.message
    stored = store_event(
        account,
        kind,
        _event_key(events, hook),
        hook,
        WebhookEvent.Status.FAILED if error else WebhookEvent.Status.PENDING,
        error,
    )
    if stored and not error:
        kick_applier()
    # A replay (not stored: the same key was) answers the same: applied (or about to be) once.
    return _answer(events)


def _json(value: object) -> str:
    return json.dumps(value)


_INSERT_EVENT = f"""
    INSERT INTO {WebhookEvent._meta.db_table}
        (tenant_id, account_id, provider, kind, event_key, method, headers, query, body, remote_addr,
         received_at, status, attempts, error)
    VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, now(), %s, 0, %s)
    ON CONFLICT (account_id, kind, event_key) DO NOTHING
    RETURNING id
"""  # noqa: S608 - the table name is ours, values are parameters


def store_event(
    account: ProviderAccount, kind: str, event_key: str, hook: WebhookRequest, status: str, error: str
) -> int | None:
    """One INSERT, committed when it returns (autocommit): the event's id, or None for a
    replay of an event stored before."""
    headers = {k: v for k, v in hook.headers.items() if k not in UNSTORED_HEADERS}
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENT,
            [
                account.tenant_id,
                account.pk,
                account.provider,
                kind,
                event_key,
                hook.method,
                _json(headers),
                _json(hook.query),
                hook.body.decode("utf-8", "replace").replace("\x00", ""),
                hook.remote_addr or None,
                status,
                error,
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


KICK_KEY = "hooks:kick"


def kick_applier() -> None:
    """Make sure an applier runs soon after the event is committed: at most one is enqueued
    per WEBHOOK_KICK_MS. The applier clears the key when it finds nothing pending and then
    looks once more, so an event stored meanwhile is never left for the next sweep."""
    transaction.on_commit(_kick, robust=True)  # Redis down: the periodic retry applies it


def _kick() -> None:
    debounce_ms = settings.WEBHOOK_KICK_MS
    applier = queue_task("providers.tasks.apply_pending_webhooks")
    eager = applier.app.conf.task_always_eager  # tests: apply now
    if eager or not debounce_ms or redis_client().set(redis_key(KICK_KEY), b"1", nx=True, px=debounce_ms):
        applier.delay()


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
    for event in batch:
        try:
            with connect.open_adapter(event.account, record=False) as adapter:
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
