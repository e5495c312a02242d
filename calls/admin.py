"""Operators' view of calls and recordings (cross-tenant, staff only). Synced fields are
read-only: rows change through calls.importers, which also keep the rollups right."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.utils.html import format_html

from core.admin_paging import BigTableAdminMixin
from core.csv_export import Column, admin_csv_action

from .models import Call, CallLeg, Recording
from .tasks import fetch_recording

CALL_COLUMNS: list[Column] = [
    ("id", lambda c: c.pk),
    ("tenant", lambda c: c.tenant.slug),
    ("provider", lambda c: c.provider_account.provider),
    ("provider_account", lambda c: c.provider_account.name),
    ("created_at", lambda c: c.created_at.isoformat()),
    ("direction", lambda c: c.direction),
    ("from_number", lambda c: c.from_number),
    ("to_number", lambda c: c.to_number),
    ("state", lambda c: c.state),
    ("raw_state", lambda c: c.raw_state),
    ("answered_at", lambda c: c.answered_at and c.answered_at.isoformat()),
    ("ended_at", lambda c: c.ended_at and c.ended_at.isoformat()),
    ("duration", lambda c: c.duration),
    ("cost", lambda c: c.cost),
    ("currency", lambda c: c.currency),
    ("cost_estimated", lambda c: c.cost_estimated),
    ("remote_id", lambda c: c.remote_id),
]

RECORDING_COLUMNS: list[Column] = [
    ("id", lambda r: r.pk),
    ("tenant", lambda r: r.tenant.slug),
    ("provider", lambda r: r.provider_account.provider),
    ("created_at", lambda r: r.created_at.isoformat()),
    ("call_remote_id", lambda r: r.call_remote_id),
    ("duration", lambda r: r.duration),
    ("size", lambda r: r.size),
    ("content_type", lambda r: r.content_type),
    ("fetch_status", lambda r: r.fetch_status),
    ("remote_id", lambda r: r.remote_id),
]


class CallLegInline(admin.TabularInline):
    model = CallLeg
    extra = 0
    can_delete = False
    fields = ["position", "from_number", "to_number", "state", "raw_state", "duration", "remote_id"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# cross-tenant: the admin is for staff operators and lists every tenant's calls.
@admin.register(Call)
class CallAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "provider_account",
        "direction",
        "from_number",
        "to_number",
        "state",
        "duration",
        "price",
        "remote_id",
    ]
    list_filter = [
        "tenant",
        "provider_account__provider",
        "direction",
        "state",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=from_number", "=to_number", "=remote_id"]
    search_help_text = "Exact phone number (E.164) or remote id."
    date_hierarchy = "created_at"
    # Django's drill-down asks for every distinct date (a scan of a million rows); this one
    # lists dates without a query (django-admin-lightweight-date-hierarchy).
    date_hierarchy_drilldown = False
    list_select_related = ["tenant", "provider_account"]
    show_full_result_count = False
    list_per_page = 50
    raw_id_fields = ["tenant", "provider_account", "subaccount", "number"]
    inlines = [CallLegInline]
    actions = [admin_csv_action("calls", CALL_COLUMNS, ["tenant", "provider_account"])]
    # Only the link to our number may be corrected by hand; the rest is the provider's word.
    readonly_fields = [
        "tenant",
        "provider_account",
        "subaccount",
        "direction",
        "from_number",
        "to_number",
        "state",
        "raw_state",
        "created_at",
        "answered_at",
        "ended_at",
        "duration",
        "cost",
        "currency",
        "cost_estimated",
        "actions",
        "remote_id",
        "idempotency_key",
        "send_attempts",
        "last_attempt_at",
        "updated_at",
        "raw",
    ]
    fieldsets = [
        (None, {"fields": ["tenant", "provider_account", "subaccount", "number"]}),
        ("Call", {"fields": ["direction", "from_number", "to_number", "actions"]}),
        ("State", {"fields": ["state", "raw_state", "created_at", "answered_at", "ended_at", "duration"]}),
        ("Price", {"fields": ["cost", "currency", "cost_estimated"]}),
        (
            "Provider and sending",
            {
                "fields": [
                    "remote_id",
                    "idempotency_key",
                    "send_attempts",
                    "last_attempt_at",
                    "updated_at",
                    "raw",
                ]
            },
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Cost", ordering="cost")
    def price(self, obj: Call) -> str:
        if obj.cost is None:
            return "—"
        return f"{obj.cost} {obj.currency}{' (est.)' if obj.cost_estimated else ''}"


# cross-tenant: staff operators see every tenant's recordings.
@admin.register(Recording)
class RecordingAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "provider_account",
        "call",
        "duration",
        "size",
        "fetch_status",
        "remote_id",
    ]
    list_filter = [
        "tenant",
        "provider_account__provider",
        "fetch_status",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=remote_id", "=call_remote_id", "=call__from_number", "=call__to_number"]
    search_help_text = "Exact recording or call remote id, or a phone number of the call."
    date_hierarchy = "created_at"
    # Django's drill-down asks for every distinct date (a scan of a million rows); this one
    # lists dates without a query (django-admin-lightweight-date-hierarchy).
    date_hierarchy_drilldown = False
    list_select_related = ["tenant", "provider_account", "call"]
    show_full_result_count = False
    list_per_page = 50
    raw_id_fields = ["tenant", "provider_account", "subaccount", "call"]
    readonly_fields = [
        "tenant",
        "provider_account",
        "subaccount",
        "call",
        "remote_id",
        "call_remote_id",
        "created_at",
        "duration",
        "size",
        "content_type",
        "stored_file",
        "fetch_status",
        "fetch_error",
        "fetch_attempts",
        "fetched_at",
        "updated_at",
        "raw",
    ]
    exclude = ["file"]
    actions = [
        "fetch_again",
        admin_csv_action("recordings", RECORDING_COLUMNS, ["tenant", "provider_account"]),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="File")
    def stored_file(self, obj: Recording) -> str:
        # The storage path only: recordings are never served directly (views check tenancy).
        return format_html("<code>{}</code>", obj.file.name) if obj.file else "—"

    @admin.action(description="Fetch the audio again")
    def fetch_again(self, request, queryset: QuerySet[Recording]) -> None:
        ids = list(
            queryset.exclude(fetch_status=Recording.FetchStatus.FETCHED).values_list("pk", flat=True)[:1000]
        )
        Recording.objects.filter(pk__in=ids).update(
            fetch_status=Recording.FetchStatus.PENDING, fetch_error=""
        )
        transaction.on_commit(lambda: [fetch_recording.delay(pk) for pk in ids])
        self.message_user(request, f"Queued {len(ids)} recording fetches.", messages.SUCCESS)
