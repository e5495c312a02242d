"""Query filters of the numbers resource (all choices tenant-scoped)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from accounts.api_filters import TenantChoiceFilter, TenantFilterSet
from providers.models import ProviderAccount

from .models import Capability, Category, PhoneNumber


class PhoneNumberFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount)
    subaccount = TenantChoiceFilter(ProviderAccount, scope={"parent__isnull": False})
    active = django_filters.BooleanFilter()
    country = django_filters.CharFilter(lookup_expr="iexact")
    category = django_filters.ChoiceFilter(choices=Category.choices)
    capability = django_filters.ChoiceFilter(
        choices=Capability.choices, field_name="capabilities", method="filter_capability"
    )
    q = django_filters.CharFilter(method="filter_q", help_text="Number prefix (E.164) or name contains.")

    class Meta:
        model = PhoneNumber
        fields = ["provider_account", "subaccount", "active", "country", "category"]

    def filter_capability(self, queryset, name, value):
        return queryset.filter(capabilities__contains=[value])

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if value.lstrip("+").isdigit():
            # A number search is a prefix on the (tenant, number) index.
            return queryset.filter(number__startswith=value if value.startswith("+") else f"+{value}")
        return queryset.filter(Q(name__icontains=value) | Q(purpose__icontains=value))
