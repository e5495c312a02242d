"""Operators' view of numbers (cross-tenant, staff only). Synced fields are read-only; our
note (`purpose`) is the one thing edited here."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from .models import PhoneNumber

Column = tuple[str, Callable[[Any], Any]]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    # Text a spreadsheet would run as a formula is quoted (CSV injection); numbers stay as is.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not value[1:].isdigit():
        return "'" + value
    return "" if value is None else value


def csv_export_action(name: str, columns: Sequence[Column], select_related: Sequence[str] = ()):
    """An admin action streaming the selection as CSV: a filtered "select all" over millions
    of rows is never built in memory."""

    def rows(queryset: QuerySet) -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow([header for header, _ in columns])
        for obj in queryset.iterator(chunk_size=2000):
            yield writer.writerow([_cell(get(obj)) for _, get in columns])

    @admin.action(description=f"Export selected {name} as CSV")
    def export_csv(modeladmin: admin.ModelAdmin, request, queryset: QuerySet) -> StreamingHttpResponse:
        queryset = queryset.select_related(*select_related).order_by(*queryset.model._meta.ordering, "pk")
        response = StreamingHttpResponse(rows(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        return response

    return export_csv


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
    actions = [csv_export_action("numbers", NUMBER_COLUMNS, ["tenant", "provider_account"])]

    def has_add_permission(self, request) -> bool:
        return False  # numbers are allocated at the provider and arrive by sync

    @admin.display(description="Capabilities")
    def capability_list(self, obj: PhoneNumber) -> str:
        return ", ".join(obj.capabilities)

    @admin.display(description="Monthly cost", ordering="monthly_cost")
    def price(self, obj: PhoneNumber) -> str:
        return "—" if obj.monthly_cost is None else f"{obj.monthly_cost} {obj.currency}"
