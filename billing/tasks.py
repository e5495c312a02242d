from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts.models import Tenant
from accounts.rls import cross_tenant_task, runs_in_tenant_of, tenant_context
from providers.adapters import ProviderError
from providers.models import ProviderAccount

from . import ledger
from .alerts import recipients
from .balances import take_snapshot
from .models import Notification
from .rentals import charge_number_rentals

log = logging.getLogger(__name__)


@shared_task
@cross_tenant_task("the balance schedule over every tenant's accounts")
def snapshot_balances() -> dict:
    """Beat: enqueue one balance snapshot per active root account that has a balance."""
    # cross-tenant: the schedule covers every tenant's accounts
    ids = list(ProviderAccount.objects.active().filter(parent__isnull=True).values_list("pk", flat=True))
    for pk in ids:
        snapshot_balance.delay(pk)
    return {"enqueued": len(ids)}


@shared_task(autoretry_for=(ProviderError,), retry_backoff=30, max_retries=3)
@runs_in_tenant_of(account_id=ProviderAccount)
def snapshot_balance(account_id: int) -> dict:
    account = ProviderAccount.objects.select_related("tenant").filter(pk=account_id).first()
    if account is None:
        return {"skipped": "gone"}
    snapshot = take_snapshot(account)
    return {"amount": str(snapshot.amount) if snapshot else None}


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
@runs_in_tenant_of(notification_id=Notification)
def email_notification(notification_id: int) -> dict:
    note = (
        Notification.objects.select_related("tenant")
        .filter(pk=notification_id, emailed_at__isnull=True)
        .first()
    )
    if note is None:
        return {"skipped": True}
    to = recipients(note.tenant)
    if to:
        send_mail(
            f"[Switchboard] {note.tenant.name}: {note.title}",
            note.body or note.title,
            settings.DEFAULT_FROM_EMAIL,
            to,
        )
    Notification.objects.filter(pk=note.pk).update(emailed_at=timezone.now())
    return {"sent_to": len(to)}


@shared_task
@cross_tenant_task("the daily rental charge, tenant by tenant")
def charge_number_rentals_all() -> dict:
    """Beat, daily: charge this month's number rentals of every tenant (idempotent)."""
    charged = 0
    for tenant in Tenant.objects.filter(active=True):  # cross-tenant: a schedule over all tenants
        with tenant_context(tenant):
            charged += charge_number_rentals(tenant)
    return {"charged": charged}


@shared_task
@cross_tenant_task("the usage folder over every tenant's ledger entries", level=logging.DEBUG)
def fold_usage() -> dict:
    """Beat, every few seconds: fold the usage ledger into the daily rollups, tenant by
    tenant (reads fold their own tenant first, so this only keeps the ledger short)."""
    tenants = ledger.tenants_with_entries()
    rows = sum(ledger.fold_all(tenant_id) for tenant_id in tenants)
    return {"tenants": len(tenants), "rollup_rows": rows}
