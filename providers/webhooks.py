"""Webhooks in: `/hooks/<provider>/<token>/<kind>/`.

The view authenticates (URL token, then the adapter's signature / source check), stores
the raw `WebhookEvent` and answers fast; `apply_event` (run by the `apply_webhook_event`
task) parses it again and hands each event to the domain handler registered for its type.

Answers:
- unknown token → 403, unknown kind → 404, failed verification → 403; nothing stored.
- a replay (same account, kind and event key) → 200 and nothing new.
- authenticated but unparseable → stored as failed and answered 200: the raw body is kept
  for a fix and a re-apply from the admin, and a non-2xx would only make the provider
  retry a body that can never parse.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlencode, urlsplit

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.rls import activate_request_tenant, rls_bypass

from . import connect
from .adapters.errors import ProviderError, WebhookRejected
from .adapters.records import EventType, InboundEvent, WebhookRequest
from .importing import handler_for
from .models import ProviderAccount, WebhookEvent
from .tasks import apply_webhook_event

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


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, provider: str, token: str, kind: str) -> HttpResponse:
    # cross-tenant: the secret token in the URL is what identifies the account (and tenant).
    with rls_bypass("webhook token lookup", level=logging.DEBUG):
        account = ProviderAccount.objects.filter(provider=provider, webhook_token=token).first()
    if account is None:
        return HttpResponseForbidden()
    activate_request_tenant(account.tenant_id)
    if account.status == ProviderAccount.Status.DELETING:
        # Its rows are being removed: accept and drop, so the provider stops retrying.
        return HttpResponse(status=200)
    hook = _webhook_request(request)
    # No provider lookups while the provider waits for our answer (Sipcentric's inbound
    # SMS id lookup happens when the event is applied, in the worker).
    with connect.open_adapter(account, record=False, webhook_lookup=False) as adapter:
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
    event = WebhookEvent(
        tenant_id=account.tenant_id,
        account=account,
        provider=account.provider,
        kind=kind,
        event_key=_event_key(events, hook),
        method=hook.method,
        headers={k: v for k, v in hook.headers.items() if k not in UNSTORED_HEADERS},
        query=hook.query,
        body=hook.body.decode("utf-8", "replace").replace("\x00", ""),
        remote_addr=hook.remote_addr or None,
        status=WebhookEvent.Status.FAILED if error else WebhookEvent.Status.PENDING,
        error=error,
    )
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        return _answer(events)  # a replay: stored already, applied (or about to be) once
    if not error:
        transaction.on_commit(lambda: apply_webhook_event.delay(event.pk))
    return _answer(events)


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
