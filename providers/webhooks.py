"""Webhooks in: `/hooks/<provider>/<token>/<kind>/`.

The view does the least work that keeps an event durable: the account from a short
in-process cache (by URL token), the adapter's signature / source check, one INSERT of the
raw `WebhookEvent` (committed before we answer), and a kick of the applier — a Redis
`SET NX` that enqueues `apply_pending_webhooks` only when none was kicked in the last
moments. The applier (providers.webhook_events) takes the stored events from there.

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
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.rls import rls_bypass
from core.db import prepared_cursor
from core.queue import task as queue_task
from core.redis import client as redis_client
from core.redis import key as redis_key

from . import connect
from .adapters import Adapter
from .adapters.errors import ProviderError, WebhookRejected
from .adapters.records import InboundEvent, WebhookRequest
from .models import ProviderAccount, WebhookEvent

logger = logging.getLogger(__name__)

# Never stored: credentials some providers send with their callbacks.
UNSTORED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


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


# One statement that sets the event's tenant for itself (migration providers/0004): the
# request stays in row-level security's "no tenant" state, with no set_config round trips.
_INSERT_EVENT = "SELECT providers_webhook_event_insert(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def store_event(
    account: ProviderAccount, kind: str, event_key: str, hook: WebhookRequest, status: str, error: str
) -> int | None:
    """One INSERT, committed when it returns (autocommit): the event's id, or None for a
    replay of an event stored before."""
    headers = {k: v for k, v in hook.headers.items() if k not in UNSTORED_HEADERS}
    with prepared_cursor() as cursor:
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
        return cursor.fetchone()[0]


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
