"""Celery tasks of the providers app: thin, taking ids and returning small dicts.

Routes (config/settings/base.py): `sync_*` run on the "sync" queue, `apply_webhook_event`
on "hooks", the rest (`delete_account_task` …) on "default". `acks_late` is used where a
redelivery is harmless: a sync resumes from its committed cursors and refuses to run twice
at once; applying an event is idempotent; a deletion resumes from what is left.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.rls import cross_tenant_task, runs_in_tenant_of
from core.db import delete_in_batches
from core.redis import client as redis_client
from core.redis import key as redis_key

from . import page_memory
from .locks import SYNC_LOCK_TTL, is_sync_locked, non_blocking_lock, sync_lock_name
from .models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent
from .purge import purge_account
from .scheduling import due_accounts, start_sync, sync_queue
from .sync import run_sync
from .webhook_events import APPLY_BATCH, apply_event, apply_pending, pending_ids
from .webhooks import KICK_KEY

PRUNE_BATCH = 5000
# A pending event older than this lost its applier (a Redis crash took the kick): apply it
# again. A failed one is retried after WEBHOOK_RETRY_FAILED_AFTER, up to WEBHOOK_MAX_ATTEMPTS.
WEBHOOK_STUCK_AFTER = timedelta(seconds=30)
WEBHOOK_RETRY_FAILED_AFTER = timedelta(minutes=5)
WEBHOOK_MAX_ATTEMPTS = 5
# A queued run whose task never arrived, or a running one whose worker vanished.
RUN_ABANDONED_AFTER = timedelta(hours=2)
# A deletion that made no progress for this long lost its task: the dispatcher queues it again.
DELETION_STALLED_AFTER = timedelta(minutes=15)
# A deletion waits for a sync of the account still running (it holds the account's lock).
DELETE_WAIT_FOR_SYNC = 30  # seconds
# A sync that found every slot of its provider taken tries again after this long.
SYNC_SLOT_RETRY_SECONDS = 15


# -- tasks ------------------------------------------------------------------------------------
@shared_task(acks_late=True)
@cross_tenant_task("the beat fan-out over every tenant's accounts")
def sync_due_accounts() -> dict[str, Any]:
    """Beat, every minute: queue a sync of each account whose interval has passed."""
    abandoned = _fail_abandoned_runs()
    enqueued = [start_sync(account, SyncRun.Trigger.SCHEDULE).account_id for account in due_accounts()]
    result = {"enqueued": len(enqueued), "abandoned": abandoned}
    if resumed := _resume_deletions():
        result["deletions_resumed"] = resumed
    return result


@shared_task(acks_late=True)
@runs_in_tenant_of(run_id=SyncRun, account_id=ProviderAccount)
def sync_account(run_id: int | None = None, account_id: int | None = None) -> dict[str, Any]:
    """Run one sync. Given an account id, a run is created (trigger: schedule) first."""
    if run_id is None:
        if account_id is None:
            raise ValueError("sync_account needs run_id or account_id")
        account = ProviderAccount.objects.get(pk=account_id)
        run = SyncRun.objects.create(tenant_id=account.tenant_id, account=account)
    else:
        found = SyncRun.objects.filter(pk=run_id).first()
        if found is None:
            return {"run": run_id, "status": "missing"}
        run = found
    if ProviderAccount.objects.filter(pk=run.account_id, status=ProviderAccount.Status.DELETING).exists():
        # Whatever queued it (a button pressed just before the delete), nothing is fetched now.
        SyncRun.objects.filter(pk=run.pk, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).update(
            status=SyncRun.Status.FAILED, error="The account is being deleted.", finished_at=timezone.now()
        )
        return {"run": run.pk, "status": SyncRun.Status.FAILED}
    run = run_sync(run)
    if run.status == SyncRun.Status.QUEUED:  # every slot of its provider was taken
        account = ProviderAccount.objects.get(pk=run.account_id)
        sync_account.apply_async(
            kwargs={"run_id": run.pk}, queue=sync_queue(account), countdown=SYNC_SLOT_RETRY_SECONDS
        )
    return {"run": run.pk, "status": run.status}


@shared_task(bind=True, acks_late=True, max_retries=None)
@runs_in_tenant_of(account_id=ProviderAccount)
def delete_account_task(self, account_id: int) -> dict[str, Any]:
    """Delete a `deleting` account and everything synced through it (purge.purge_account:
    batches, files after each commit). Holds the sync locks of the account and its
    subaccounts throughout, so no sync writes behind it; a sync still running makes it wait.
    Idempotent: a redelivery or a second task finishes the job or finds nothing to do."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {"account": account_id, "status": "gone"}
    if account.status != ProviderAccount.Status.DELETING:
        return {"account": account_id, "status": f"skipped: {account.status}"}
    ids = [account.pk, *account.subaccounts.values_list("pk", flat=True)]
    with ExitStack() as stack:
        locks = [stack.enter_context(non_blocking_lock(sync_lock_name(i), SYNC_LOCK_TTL)) for i in ids]
        if not all(lock.held for lock in locks):
            raise self.retry(countdown=DELETE_WAIT_FOR_SYNC)
        deleted = purge_account(account_id, heartbeat=lambda: [lock.refresh() for lock in locks])
    return {"account": account_id, "status": "deleted", "rows": sum(deleted.values())}


def _resume_deletions() -> int:
    """Queue again the deletions whose task was lost (no progress for a while)."""
    cutoff = timezone.now() - DELETION_STALLED_AFTER
    # cross-tenant: housekeeping over every tenant's accounts being deleted (roots, or a
    # subaccount deleted on its own).
    stalled = (
        ProviderAccount.objects.filter(status=ProviderAccount.Status.DELETING, updated_at__lt=cutoff)
        .exclude(parent__status=ProviderAccount.Status.DELETING)
        .values_list("pk", flat=True)
    )
    ids = list(stalled[:100])
    ProviderAccount.objects.filter(pk__in=ids).update(updated_at=timezone.now())  # once per period
    for account_id in ids:
        delete_account_task.delay(account_id)
    return len(ids)


@shared_task(acks_late=True)
@runs_in_tenant_of(event_id=WebhookEvent)
def apply_webhook_event(event_id: int) -> dict[str, Any]:
    return {"event": event_id, "status": apply_event(event_id)}


APPLIER_MAX_SECONDS = 30.0


@shared_task(acks_late=True)
@cross_tenant_task("the webhook applier takes every tenant's pending events", level=logging.DEBUG)
def apply_pending_webhooks() -> dict[str, Any]:
    """Apply pending webhook events in batches until none is left (kicked by the webhook
    view). Bounded in time: past APPLIER_MAX_SECONDS it hands over to a fresh task."""
    started, applied = time.monotonic(), 0
    while time.monotonic() - started < APPLIER_MAX_SECONDS:
        taken = apply_pending()
        applied += taken
        if taken:
            if taken < APPLY_BATCH // 10:
                time.sleep(settings.WEBHOOK_APPLY_PAUSE_MS / 1000)
            continue
        # Nothing pending: let the next event kick a new applier, then look once more so an
        # event stored between our last look and the delete is not left behind.
        redis_client().delete(redis_key(KICK_KEY))
        if not pending_ids():
            return {"applied": applied}
    apply_pending_webhooks.delay()
    return {"applied": applied, "handed_over": True}


@shared_task(acks_late=True)
@cross_tenant_task("a sweep over every tenant's stuck webhook events")
def retry_pending_webhook_events() -> dict[str, Any]:
    """Beat, every 30 s: re-enqueue events stuck in pending (their task was lost) and
    failed ones that have attempts left."""
    now = timezone.now()
    # cross-tenant: a sweep over every tenant's stuck events.
    ids = list(
        WebhookEvent.objects.filter(
            Q(status=WebhookEvent.Status.PENDING, received_at__lt=now - WEBHOOK_STUCK_AFTER)
            | Q(
                status=WebhookEvent.Status.FAILED,
                attempts__lt=WEBHOOK_MAX_ATTEMPTS,
                received_at__lt=now - WEBHOOK_RETRY_FAILED_AFTER,
            )
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
    for event_id in ids:
        apply_webhook_event.delay(event_id)
    return {"enqueued": len(ids)}


@shared_task
@cross_tenant_task("retention of every tenant's provider logs")
def prune_provider_logs() -> dict[str, Any]:
    """Daily: delete ProviderLog rows past the retention, in batches (short transactions)."""
    cutoff = timezone.now() - timedelta(days=settings.PROVIDER_LOG_RETENTION_DAYS)
    # cross-tenant: retention applies to every tenant's logs.
    return {"deleted": delete_in_batches(ProviderLog.objects.filter(created_at__lt=cutoff), PRUNE_BATCH)}


@shared_task
@cross_tenant_task("retention of every tenant's sync page memory")
def prune_synced_pages() -> dict[str, Any]:
    """Daily: forget the history pages no sync has seen for SYNC_PAGE_MEMORY_DAYS."""
    # cross-tenant: retention applies to every tenant's page memory.
    return {"deleted": delete_in_batches(page_memory.forgettable(), PRUNE_BATCH)}


@shared_task
@cross_tenant_task("retention of every tenant's webhook events")
def prune_webhook_events() -> dict[str, Any]:
    """Daily: delete applied and ignored webhook events past WEBHOOK_EVENT_RETENTION_DAYS, in
    batches. Pending and failed ones stay: they are work not done yet, or evidence of why."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    done = [WebhookEvent.Status.APPLIED, WebhookEvent.Status.IGNORED]
    # cross-tenant: retention applies to every tenant's events (index: status, received_at).
    old = WebhookEvent.objects.filter(status__in=done, received_at__lt=cutoff)
    return {"deleted": delete_in_batches(old, PRUNE_BATCH)}


def _fail_abandoned_runs() -> int:
    cutoff = timezone.now() - RUN_ABANDONED_AFTER
    # cross-tenant: housekeeping over every tenant's runs.
    stale = SyncRun.objects.filter(
        Q(status=SyncRun.Status.QUEUED, created_at__lt=cutoff)
        | Q(status=SyncRun.Status.RUNNING, started_at__lt=cutoff)
    ).only("pk", "account_id")
    ids = [run.pk for run in stale if not is_sync_locked(run.account_id)]
    return SyncRun.objects.filter(
        pk__in=ids, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
    ).update(
        status=SyncRun.Status.FAILED, error="abandoned: the task never finished", finished_at=timezone.now()
    )
