import django_filters

from accounts.api_filters import TenantChoiceFilter, TenantFilterSet, UtcIsoDateTimeFilter

from .models import BalanceSnapshot, Notification


class BalanceFilter(TenantFilterSet):
    provider_account = TenantChoiceFilter("providers.ProviderAccount")
    created_after = UtcIsoDateTimeFilter(
        field_name="taken_at", lookup_expr="gte", help_text="Taken at or after (ISO 8601)."
    )
    created_before = UtcIsoDateTimeFilter(
        field_name="taken_at", lookup_expr="lt", help_text="Taken before (ISO 8601)."
    )

    class Meta:
        model = BalanceSnapshot
        fields = ["provider_account", "currency"]


class NotificationFilter(TenantFilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")

    class Meta:
        model = Notification
        fields = ["kind", "level"]
