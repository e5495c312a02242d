"""Query filters of messages, conversations and media (all choices tenant-scoped).

`q` stays index-friendly: a phone number (digits, optionally with +) matches from/to
exactly or as a prefix on the (tenant, from_number|to_number, -created_at) indexes; only
other text falls back to a body search, which callers should bound with created_after.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q

from accounts.api_filters import (
    OptionalMultipleChoiceFilter,
    TenantChoiceFilter,
    TenantFilterSet,
    number_query,
)
from providers.models import ProviderAccount

from .models import DirectionChoice, Kind, Message, MessageMedia, Status


class MessageFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount)
    subaccount = TenantChoiceFilter(ProviderAccount, scope={"parent__isnull": False})
    number = TenantChoiceFilter("numbers.PhoneNumber")
    direction = django_filters.ChoiceFilter(choices=DirectionChoice.choices)
    status = OptionalMultipleChoiceFilter(choices=Status.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    q = django_filters.CharFilter(method="filter_q", help_text="A number (prefix of from/to) or body text.")

    class Meta:
        model = Message
        fields = ["provider_account", "subaccount", "number", "direction", "status", "kind"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        by_number = number_query(value, "from_number", "to_number")
        return queryset.filter(by_number if by_number is not None else Q(body__icontains=value))


class ConversationFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter(ProviderAccount)
    number = TenantChoiceFilter("numbers.PhoneNumber")
    q = django_filters.CharFilter(method="filter_q", help_text="Counterpart or our number (prefix).")

    class Meta:
        model = Message
        fields = ["provider_account", "number"]

    def filter_q(self, queryset, name, value):
        by_number = number_query(value.strip(), "from_number", "to_number")
        return queryset.filter(by_number) if by_number is not None else queryset.none()


class MediaFilter(TenantFilterSet):
    # A plain id (not a choice filter, which would render every message as a choice in the
    # browsable API); the queryset it narrows is already the tenant's.
    message = django_filters.NumberFilter(field_name="message_id")
    fetch_status = django_filters.ChoiceFilter(choices=MessageMedia.FetchStatus.choices)

    class Meta:
        model = MessageMedia
        fields = ["message", "fetch_status"]
