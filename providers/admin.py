"""Operators' view of provider accounts, sync runs, webhook events and the HTTP log.

Credentials are never shown: the encrypted fields have no form field at all, and new
credentials go in through a write-only JSON field validated by the provider's adapter.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join

from core.admin_paging import BigTableAdminMixin

from .adapters.errors import NotSupported
from .adapters.registry import adapter_class
from .models import ProviderAccount, ProviderLog, SyncedPage, SyncRun, WebhookEvent
from .scheduling import start_sync
from .services import validate_base_url
from .tasks import apply_webhook_event


class ReadOnlyAdmin(BigTableAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ProviderAccountForm(forms.ModelForm):
    new_credentials = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='Write-only. JSON, e.g. {"username": "…", "password": "…"}; leave empty to keep the '
        "current credentials.",
    )
    new_webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the current secret.",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "tenant",
            "provider",
            "name",
            "parent",
            "base_url",
            "remote_account_id",
            "currency",
            "usage_limit",
            "status",
            "sync_enabled",
            "sync_interval",
            "send_rate",
            "options",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Never echo what was typed back into the page, even after a validation error.
        self.fields["new_credentials"].widget.format_value = lambda value: ""
        if self.instance.pk is None:
            self.fields["new_credentials"].required = True

    def clean_base_url(self) -> str:
        value = self.cleaned_data.get("base_url", "")
        if self.instance.pk is not None and value == self.instance.base_url:
            return value  # unchanged: an account saved before this check stays editable
        return validate_base_url(value)  # the SSRF guard

    def clean(self):
        cleaned = super().clean()
        credentials = cleaned.get("new_credentials")
        provider = cleaned.get("provider") or self.instance.provider
        if credentials in (None, "", {}):
            if self.instance.pk is None:
                self.add_error("new_credentials", "A new account needs credentials.")
            return cleaned
        if not isinstance(credentials, dict):
            self.add_error("new_credentials", "Credentials are a JSON object.")
            return cleaned
        try:
            cleaned["new_credentials"] = adapter_class(provider).validate_credentials(credentials)
        except (ValueError, NotSupported) as exc:
            self.add_error("new_credentials", str(exc))
        return cleaned

    def save(self, commit=True):
        account = super().save(commit=False)
        if self.cleaned_data.get("new_credentials"):
            account.set_credentials(self.cleaned_data["new_credentials"])
        if self.cleaned_data.get("new_webhook_secret"):
            account.set_webhook_secret(self.cleaned_data["new_webhook_secret"])
        if commit:
            account.save()
        return account


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = [
        "name",
        "tenant",
        "provider",
        "parent",
        "status",
        "sync_enabled",
        "last_synced_at",
        "last_error",
    ]
    list_filter = ["provider", "status", "sync_enabled", "tenant"]
    search_fields = ["name", "remote_account_id", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant", "parent"]
    list_select_related = ["tenant", "parent"]
    show_full_result_count = False
    readonly_fields = [
        "usage",
        "last_synced_at",
        "last_error",
        "cursors",
        "hook_urls",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["tenant", "provider", "name", "parent", "status"]}),
        (
            "Connection",
            {"fields": ["base_url", "remote_account_id", "new_credentials", "new_webhook_secret", "options"]},
        ),
        ("Money", {"fields": ["currency", "usage", "usage_limit"]}),
        (
            "Sync",
            {
                "fields": [
                    "sync_enabled",
                    "sync_interval",
                    "send_rate",
                    "last_synced_at",
                    "last_error",
                    "cursors",
                ]
            },
        ),
        ("Webhooks", {"fields": ["hook_urls"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["sync_now"]

    @admin.display(description="Sync cursors")
    def cursors(self, obj: ProviderAccount) -> str:
        return json.dumps(obj.sync_cursors or {}, indent=1)

    @admin.display(description="Webhook URLs")
    def hook_urls(self, obj: ProviderAccount) -> str:
        if obj.pk is None:
            return "-"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", obj.webhook_urls.items()))

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset) -> None:
        with transaction.atomic():
            runs = [start_sync(account, SyncRun.Trigger.ADMIN) for account in queryset]
        self.message_user(request, f"Queued {len(runs)} sync run(s).", messages.SUCCESS)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "tenant",
        "status",
        "trigger",
        "created_at",
        "duration",
        "pages",
        "fetched",
        "created",
        "updated",
    ]
    list_filter = ["status", "trigger", "account__provider"]
    search_fields = ["account__name", "tenant__name"]
    list_select_related = ["account", "tenant"]
    date_hierarchy = "created_at"

    def _total(self, obj: SyncRun, key: str) -> int:
        return sum(r.get(key, 0) for r in (obj.resources or {}).values())

    @admin.display(description="pages")
    def pages(self, obj: SyncRun) -> int:
        return self._total(obj, "pages")

    @admin.display(description="fetched")
    def fetched(self, obj: SyncRun) -> int:
        return self._total(obj, "fetched")

    @admin.display(description="created")
    def created(self, obj: SyncRun) -> int:
        return self._total(obj, "created")

    @admin.display(description="updated")
    def updated(self, obj: SyncRun) -> int:
        return self._total(obj, "updated")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "account", "tenant", "provider", "kind", "event_key", "status", "attempts"]
    list_filter = ["provider", "kind", "status"]
    search_fields = ["event_key"]
    list_select_related = ["account", "tenant"]
    date_hierarchy = "received_at"
    actions = ["reapply"]

    @admin.action(description="Re-apply selected events")
    def reapply(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        # Back to pending so apply_event runs them again (handlers are idempotent).
        WebhookEvent.objects.filter(pk__in=ids).update(status=WebhookEvent.Status.PENDING, error="")
        transaction.on_commit(lambda: [apply_webhook_event.delay(pk) for pk in ids])
        self.message_user(request, f"Queued {len(ids)} event(s) to be applied again.", messages.SUCCESS)


@admin.register(ProviderLog)
class ProviderLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "tenant", "method", "url", "status", "duration_ms", "error"]
    list_filter = ["method", "status", "account__provider"]
    search_fields = ["url"]
    list_select_related = ["account", "tenant"]
    date_hierarchy = "created_at"


@admin.register(SyncedPage)
class SyncedPageAdmin(ReadOnlyAdmin):
    """Pages a sync will not write again (providers.page_memory). Deleting an account's rows
    here makes its next full sync write every page again."""

    list_display = ["seen_at", "account", "tenant", "resource", "digest_hex"]
    list_filter = ["resource", "account__provider"]
    list_select_related = ["account", "tenant"]

    @admin.display(description="digest")
    def digest_hex(self, obj: SyncedPage) -> str:
        return bytes(obj.digest).hex()
