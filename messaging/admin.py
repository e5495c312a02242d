"""Operators' view of message history (cross-tenant, staff only). Synced fields are read-only:
rows change through the importers, which also keep the rollups right."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin_paging import EstimatedCountPaginator
from core.csv_export import Column, admin_csv_action

from .models import BulkSend, Message, MessageMedia
from .tasks import fetch_media

MESSAGE_COLUMNS: list[Column] = [
    ("id", lambda m: m.pk),
    ("tenant", lambda m: m.tenant.slug),
    ("provider", lambda m: m.provider_account.provider),
    ("provider_account", lambda m: m.provider_account.name),
    ("created_at", lambda m: m.created_at.isoformat()),
    ("direction", lambda m: m.direction),
    ("kind", lambda m: m.kind),
    ("from_number", lambda m: m.from_number),
    ("to_number", lambda m: m.to_number),
    ("status", lambda m: m.status),
    ("raw_status", lambda m: m.raw_status),
    ("parts", lambda m: m.parts),
    ("encoding", lambda m: m.encoding),
    ("cost", lambda m: m.cost),
    ("currency", lambda m: m.currency),
    ("cost_estimated", lambda m: m.cost_estimated),
    ("remote_id", lambda m: m.remote_id),
    ("error", lambda m: m.error),
    ("body", lambda m: m.body),
]
export_csv = admin_csv_action("messages", MESSAGE_COLUMNS, ["tenant", "provider_account"])


class MessageMediaInline(admin.TabularInline):
    model = MessageMedia
    extra = 0
    can_delete = False
    fields = ["remote_id", "content_type", "size", "digest", "fetch_status", "fetch_error", "file"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# cross-tenant: the admin is for staff operators and lists every tenant's messages.
@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "provider_account",
        "direction",
        "kind",
        "from_number",
        "to_number",
        "short_body",
        "status",
        "price",
        "remote_id",
    ]
    list_filter = [
        "tenant",
        "provider_account__provider",
        "direction",
        "status",
        "kind",
        ("created_at", admin.DateFieldListFilter),
    ]
    # Exact matches for numbers and ids (what operators paste); the body is a substring search.
    search_fields = ["=from_number", "=to_number", "=remote_id", "body"]
    search_help_text = "Exact phone number or remote id, or words of the body."
    date_hierarchy = "created_at"
    # Django's drill-down asks for every distinct date (a scan of a million rows); this one
    # lists dates without a query (django-admin-lightweight-date-hierarchy).
    date_hierarchy_drilldown = False
    # No joins in the page query: with the tenant and account joined, Postgres (its estimates
    # blurred by the row-level security predicates) sorted every message to find 50 (0.6 s at
    # 460,000 rows). The page's tenants and accounts come with two small lookups instead.
    list_select_related = ()  # not False: False makes Django join every foreign key itself
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    raw_id_fields = ["tenant", "provider_account", "subaccount", "number"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tenant", "provider_account")
    actions = [export_csv]
    inlines = [MessageMediaInline]
    # Only the link to our number may be corrected by hand; the rest is the provider's word.
    readonly_fields = [
        "tenant",
        "provider_account",
        "subaccount",
        "kind",
        "direction",
        "from_number",
        "to_number",
        "body",
        "status",
        "raw_status",
        "error",
        "parts",
        "encoding",
        "cost",
        "currency",
        "cost_estimated",
        "created_at",
        "sent_at",
        "delivered_at",
        "updated_at",
        "remote_id",
        "idempotency_key",
        "send_attempts",
        "last_attempt_at",
        "raw",
    ]
    fieldsets = [
        (None, {"fields": ["tenant", "provider_account", "subaccount", "number"]}),
        (
            "Message",
            {"fields": ["kind", "direction", "from_number", "to_number", "body", "parts", "encoding"]},
        ),
        ("Status", {"fields": ["status", "raw_status", "error", "created_at", "sent_at", "delivered_at"]}),
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

    @admin.display(description="Body")
    def short_body(self, obj: Message) -> str:
        return Truncator(obj.body).chars(60)

    @admin.display(description="Cost", ordering="cost")
    def price(self, obj: Message) -> str:
        if obj.cost is None:
            return "—"
        return f"{obj.cost} {obj.currency}{' (est.)' if obj.cost_estimated else ''}"


# cross-tenant: staff operators see every tenant's media.
@admin.register(MessageMedia)
class MessageMediaAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tenant",
        "message",
        "remote_id",
        "content_type",
        "size",
        "fetch_status",
        "created_at",
    ]
    list_filter = ["fetch_status", "tenant"]
    search_fields = ["=remote_id", "=message__remote_id", "=digest"]
    list_select_related = ["tenant", "message"]
    show_full_result_count = False
    raw_id_fields = ["tenant", "message"]
    readonly_fields = [
        "tenant",
        "message",
        "remote_id",
        "digest",
        "size",
        "content_type",
        "stored_file",
        "fetch_status",
        "fetch_error",
        "fetch_attempts",
        "created_at",
        "fetched_at",
        "raw",
    ]
    exclude = ["file"]
    actions = ["fetch_again"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="File")
    def stored_file(self, obj: MessageMedia) -> str:
        # The storage path only: media is never served directly (views check tenancy).
        return format_html("<code>{}</code>", obj.file.name) if obj.file else "—"

    @admin.action(description="Fetch the bytes again")
    def fetch_again(self, request, queryset: QuerySet[MessageMedia]) -> None:
        pending = queryset.exclude(fetch_status=MessageMedia.FetchStatus.FETCHED)
        ids = list(pending.values_list("pk", flat=True)[:1000])
        queryset.filter(pk__in=ids).update(fetch_status=MessageMedia.FetchStatus.PENDING, fetch_error="")
        transaction.on_commit(lambda: [fetch_media.delay(pk) for pk in ids])
        self.message_user(request, f"Queued {len(ids)} media fetches.", messages.SUCCESS)


@admin.register(BulkSend)
class BulkSendAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "account", "from_number", "total", "queued", "created_by"]
    list_filter = ["tenant"]
    search_fields = ["idempotency_key", "from_number", "body"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "account", "created_by"]
    raw_id_fields = ["account", "created_by"]
    readonly_fields = [
        "tenant",
        "account",
        "created_by",
        "created_at",
        "from_number",
        "body",
        "idempotency_key",
        "total",
        "queued",
        "invalid_rows",
    ]

    def has_add_permission(self, request) -> bool:
        return False
