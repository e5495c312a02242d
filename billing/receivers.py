"""Billing's reactions to provider events."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.queue import task as queue_task
from providers.adapters.records import Capability

from .models import BalanceSnapshot

# A sync refreshes the balance when the newest snapshot is older than this, so a newly
# connected account shows its balance at once without waiting for the hourly schedule.
SNAPSHOT_MAX_AGE = timedelta(hours=1)


def snapshot_after_sync(sender, account, run, **kwargs) -> None:
    if account.parent_id is not None or not account.can(Capability.BALANCE):
        return
    recent = BalanceSnapshot.objects.for_tenant(account.tenant_id).filter(
        provider_account=account, taken_at__gte=timezone.now() - SNAPSHOT_MAX_AGE
    )
    if recent.exists():
        return
    snapshot_balance = queue_task("billing.tasks.snapshot_balance")
    transaction.on_commit(lambda: snapshot_balance.delay(account.pk))
