from django.contrib import admin

from .models import (
    BalanceSnapshot,
    BillingSettings,
    DailyUsage,
    Notification,
    NumberRental,
    UsageCounter,
    UsageEntry,
)


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    list_display = [
        "day",
        "tenant",
        "provider_account",
        "subaccount",
        "kind",
        "direction",
        "currency",
        "count",
        "parts",
        "seconds",
        "cost",
    ]
    list_filter = ["kind", "direction", "currency", "tenant"]
    date_hierarchy = "day"
    list_select_related = ["tenant", "provider_account", "subaccount"]
    raw_id_fields = ["provider_account", "subaccount"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # rollups are maintained by the importers (or `rebuild_usage`)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(BillingSettings)
class BillingSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "monthly_spend_cap",
        "spend_cap_currency",
        "monthly_message_cap",
        "low_balance_threshold",
        "markup_percent",
    ]
    autocomplete_fields = ["tenant"]
    search_fields = ["tenant__name", "tenant__slug"]


@admin.register(UsageCounter)
class UsageCounterAdmin(admin.ModelAdmin):
    list_display = ["tenant", "period", "currency", "messages", "spent"]
    list_filter = ["period"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "period", "currency", "messages", "spent"]


@admin.register(UsageEntry)
class UsageEntryAdmin(admin.ModelAdmin):
    """The unfolded tail of the usage ledger (normally a few seconds' worth): read-only."""

    list_display = ["id", "tenant", "provider_account", "kind", "direction", "day", "count", "cost"]
    list_select_related = ["tenant", "provider_account"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(admin.ModelAdmin):
    list_display = ["taken_at", "tenant", "provider_account", "amount", "currency", "credit_alert"]
    list_filter = ["currency", "tenant"]
    date_hierarchy = "taken_at"
    list_select_related = ["tenant", "provider_account"]
    raw_id_fields = ["provider_account"]
    show_full_result_count = False
    readonly_fields = ["tenant", "provider_account", "amount", "currency", "credit_alert", "taken_at", "raw"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "kind",
        "key",
        "period",
        "level",
        "title",
        "read_at",
        "emailed_at",
    ]
    list_filter = ["kind", "level", "tenant"]
    search_fields = ["title", "body"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"


@admin.register(NumberRental)
class NumberRentalAdmin(admin.ModelAdmin):
    list_display = ["period", "tenant", "number", "cost", "currency", "created_at"]
    list_filter = ["period", "currency", "tenant"]
    list_select_related = ["tenant", "number"]
    raw_id_fields = ["number"]
    readonly_fields = ["tenant", "number", "period", "cost", "currency", "created_at"]
