"""Operators' view of numbers (cross-tenant, staff only). Synced fields are read-only; our
note (`purpose`) is the one thing edited here."""

from __future__ import annotations

from django.contrib import admin

from core.csv_export import Column, admin_csv_action

from .models import PhoneNumber

NUMBER_COLUMNS: list[Column] = [
    ("id", lambda n: n.pk),
    ("tenant", lambda n: n.tenant.slug),
    ("provider", lambda n: n.provider_account.provider),
    ("provider_account", lambda n: n.provider_account.name),
    ("number", lambda n: n.number),
    ("country", lambda n: n.country),
    ("capabilities", lambda n: " ".join(n.capabilities)),
    ("category", lambda n: n.category),
    ("active", lambda n: n.active),
    ("name", lambda n: n.name),
    ("purpose", lambda n: n.purpose),
    ("monthly_cost", lambda n: n.monthly_cost),
    ("currency", lambda n: n.currency),
    ("allocated_at", lambda n: n.allocated_at and n.allocated_at.isoformat()),
    ("expires_at", lambda n: n.expires_at and n.expires_at.isoformat()),
    ("remote_id", lambda n: n.remote_id),
]

SYNCED = [
    "tenant",
    "provider_account",
    "subaccount",
    "remote_id",
    "number",
    "country",
    "capabilities",
    "category",
    "active",
    "sms_url",
    "mms_url",
    "voice_url",
    "name",
    "allocated_at",
    "expires_at",
    "monthly_cost",
    "currency",
    "created_at",
    "updated_at",
    "raw",
]


# cross-tenant: the admin is for staff operators and lists every tenant's numbers.
@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "tenant",
        "provider_account",
        "country",
        "category",
        "capability_list",
        "active",
        "name",
        "purpose",
        "price",
        "allocated_at",
    ]
    list_filter = [
        "tenant",
        "provider_account__provider",
        "active",
        "country",
        "category",
        ("allocated_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=number", "=remote_id", "name", "purpose"]
    search_help_text = "Exact number (E.164) or remote id, or words of the name or purpose."
    date_hierarchy = "allocated_at"
    list_select_related = ["tenant", "provider_account"]
    show_full_result_count = False
    list_per_page = 50
    raw_id_fields = ["tenant", "provider_account", "subaccount"]
    readonly_fields = SYNCED
    fieldsets = [
        (None, {"fields": ["tenant", "provider_account", "subaccount", "number", "purpose"]}),
        (
            "At the provider",
            {"fields": ["remote_id", "name", "country", "category", "capabilities", "active"]},
        ),
        ("Webhook routing", {"fields": ["sms_url", "mms_url", "voice_url"]}),
        ("Rental", {"fields": ["monthly_cost", "currency", "allocated_at", "expires_at"]}),
        ("Record", {"fields": ["created_at", "updated_at", "raw"]}),
    ]
    actions = [admin_csv_action("numbers", NUMBER_COLUMNS, ["tenant", "provider_account"])]

    def has_add_permission(self, request) -> bool:
        return False  # numbers are allocated at the provider and arrive by sync

    @admin.display(description="Capabilities")
    def capability_list(self, obj: PhoneNumber) -> str:
        return ", ".join(obj.capabilities)

    @admin.display(description="Monthly cost", ordering="monthly_cost")
    def price(self, obj: PhoneNumber) -> str:
        return "—" if obj.monthly_cost is None else f"{obj.monthly_cost} {obj.currency}"
