"""Alerts: in-app notifications plus email to owners and admins, each (kind, key) once per
period — the unique constraint makes a second firing a no-op, even from two processes."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Membership, Role, Tenant
from core.queue import task as queue_task

from .models import BillingSettings, Notification


def notify(
    tenant: Tenant,
    kind: str,
    key: str,
    period: str,
    title: str,
    body: str = "",
    level: str = Notification.Level.WARNING,
) -> Notification | None:
    """Create the notification unless it already fired; returns it only when new."""
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                tenant=tenant, kind=kind, key=key, period=period, title=title, body=body, level=level
            )
    except IntegrityError:
        return None
    billing = BillingSettings.objects.filter(tenant=tenant).first()
    if billing is None or billing.alert_emails:
        email_notification = queue_task("billing.tasks.email_notification")
        transaction.on_commit(lambda: email_notification.delay(note.pk))
    return note


def recipients(tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.filter(
            tenant=tenant, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
        ).values_list("user__email", flat=True)
    )


CAP_THRESHOLDS = (80, 100)


def check_cap(tenant: Tenant, kind: str, used, cap, period: str, unit: str) -> None:
    """Fire the 80% and 100% alerts for a cap once each per period."""
    if cap is None:
        return
    percent = 100 if cap == 0 else used * 100 / cap
    for threshold in CAP_THRESHOLDS:
        if percent >= threshold:
            notify(
                tenant,
                kind,
                str(threshold),
                period,
                title=f"{threshold}% of the monthly {unit} cap used",
                body=f"{used} of {cap} {unit} used this month ({percent:.0f}%).",
                level=Notification.Level.CRITICAL if threshold >= 100 else Notification.Level.WARNING,
            )
