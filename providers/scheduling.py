"""Queueing history syncs: which accounts are due, which queue a sync goes to, and the one
way to start one (dashboard, API, admin, command, schedule, a root's subaccounts)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q, Value
from django.utils import timezone

from core.queue import task as queue_task

from .models import ProviderAccount, SyncRun


def start_sync(account: ProviderAccount, trigger: str) -> SyncRun:
    """Queue a sync of `account` (dashboard, API, admin, command, schedule). An account with
    a run already queued gets that run back instead of a second one."""
    existing = SyncRun.objects.filter(account=account, status=SyncRun.Status.QUEUED).first()
    if existing is not None:
        return existing
    run = SyncRun.objects.create(tenant_id=account.tenant_id, account=account, trigger=trigger)
    queue = sync_queue(account)
    sync_account = queue_task("providers.tasks.sync_account")
    transaction.on_commit(lambda: sync_account.apply_async(kwargs={"run_id": run.pk}, queue=queue))
    return run


def sync_queue(account: ProviderAccount) -> str:
    """A first import (the whole history) goes to its own queue, so it never holds up the
    small incremental syncs of other tenants."""
    return "sync" if account.last_synced_at else "sync_bulk"


def due_accounts(now=None):
    now = now or timezone.now()
    interval = ExpressionWrapper(
        F("sync_interval") * Value(timedelta(minutes=1)), output_field=DurationField()
    )
    # cross-tenant: the beat fan-out looks at every tenant's accounts.
    return (
        ProviderAccount.objects.active()
        .filter(sync_enabled=True, tenant__active=True)
        .alias(due_at=F("last_synced_at") + interval)
        .filter(Q(last_synced_at__isnull=True) | Q(due_at__lte=now))
        .exclude(sync_runs__status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
    )
