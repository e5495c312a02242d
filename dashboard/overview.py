"""The tenant's home page: balances and this month's spend, recent messages and calls,
unread notifications, accounts failing to sync or not synced yet."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import render
from django.urls import reverse

from accounts.tenancy import tenant_qs
from billing import views as billing_views
from billing.models import Notification
from billing.periods import month_start
from calls.models import Call
from messaging.models import Message
from providers.models import ProviderAccount


def overview(request):
    tenant = request.tenant
    accounts = tenant_qs(request, ProviderAccount)
    context = {
        "balances": billing_views.latest_balances(request),
        "month_spend": billing_views.month_spend(request),
        "month_start": month_start(tenant),
        "recent_messages": list(
            tenant_qs(request, Message).select_related("provider_account").order_by("-created_at", "-id")[:6]
        ),
        "recent_calls": list(tenant_qs(request, Call).order_by("-created_at", "-id")[:6]),
        "notifications": list(tenant_qs(request, Notification).filter(read_at__isnull=True)[:5]),
        "sync_errors": list(accounts.filter(Q(status=ProviderAccount.Status.ERROR) | ~Q(last_error=""))),
        "has_accounts": accounts.exists(),
        # Accounts never synced yet: the overview says their first sync is on its way.
        "first_syncs": list(
            accounts.filter(parent__isnull=True, last_synced_at__isnull=True).exclude(
                status__in=[ProviderAccount.Status.DISABLED, ProviderAccount.Status.DELETING]
            )
        ),
        "chart_url": reverse("usage-daily", args=[tenant.slug]) + "?days=30&series=traffic",
    }
    return render(request, "dashboard/overview.html", context)
