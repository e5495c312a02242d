"""Query filters of the provider resources (all choices tenant-scoped)."""

from __future__ import annotations

import django_filters

from accounts.api_filters import TenantChoiceFilter, TenantFilterSet, UtcIsoDateTimeFilter

from .adapters import registry
from .models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent


class ProviderAccountFilter(TenantFilterSet):
    provider = django_filters.ChoiceFilter(choices=registry.choices())
    status = django_filters.ChoiceFilter(choices=ProviderAccount.Status.choices)
    parent = TenantChoiceFilter(ProviderAccount)
    is_subaccount = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull", exclude=True)
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Name contains.")

    class Meta:
        model = ProviderAccount
        fields = ["provider", "status", "parent"]


class SubaccountFilter(TenantFilterSet):
    parent = TenantChoiceFilter(ProviderAccount, scope={"parent__isnull": True})
    provider = django_filters.ChoiceFilter(choices=registry.choices())
    status = django_filters.ChoiceFilter(choices=ProviderAccount.Status.choices)

    class Meta:
        model = ProviderAccount
        fields = ["parent", "provider", "status"]


class SyncRunFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount, field_name="account")
    status = django_filters.ChoiceFilter(choices=SyncRun.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=SyncRun.Trigger.choices)

    class Meta:
        model = SyncRun
        fields = ["provider_account", "status", "trigger"]


class WebhookEventFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount, field_name="account")
    provider = django_filters.ChoiceFilter(choices=registry.choices())
    kind = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=WebhookEvent.Status.choices)
    created_after = UtcIsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = WebhookEvent
        fields = ["provider_account", "provider", "kind", "status"]


class ProviderLogFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount, field_name="account")
    status = django_filters.NumberFilter(help_text="HTTP status the provider answered.")
    failed = django_filters.BooleanFilter(field_name="error", method="filter_failed")

    class Meta:
        model = ProviderLog
        fields = ["provider_account", "status"]

    def filter_failed(self, queryset, name, value):
        return queryset.exclude(error="") if value else queryset.filter(error="")
