"""Query filters of calls and recordings (all choices tenant-scoped)."""

from __future__ import annotations

import django_filters

from accounts.api_filters import (
    OptionalMultipleChoiceFilter,
    TenantChoiceFilter,
    TenantFilterSet,
    number_query,
)
from providers.models import ProviderAccount

from .models import Call, CallState, Direction, Recording


class CallFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount)
    subaccount = TenantChoiceFilter(ProviderAccount, scope={"parent__isnull": False})
    number = TenantChoiceFilter("numbers.PhoneNumber")
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    state = OptionalMultipleChoiceFilter(choices=CallState.choices)
    # `status`, as on messages: the same states (an unknown one is a 400, not ignored).
    status = OptionalMultipleChoiceFilter(
        field_name="state", choices=CallState.choices, help_text="Alias of `state`."
    )
    q = django_filters.CharFilter(method="filter_q", help_text="A number: prefix of from or to.")

    class Meta:
        model = Call
        fields = ["provider_account", "subaccount", "number", "direction", "state"]

    def filter_q(self, queryset, name, value):
        by_number = number_query(value.strip(), "from_number", "to_number")
        return queryset.filter(by_number) if by_number is not None else queryset.none()


class RecordingFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount)
    subaccount = TenantChoiceFilter(ProviderAccount, scope={"parent__isnull": False})
    call = django_filters.NumberFilter(field_name="call_id")
    fetch_status = django_filters.ChoiceFilter(choices=Recording.FetchStatus.choices)

    class Meta:
        model = Recording
        fields = ["provider_account", "subaccount", "call", "fetch_status"]
