"""Provider accounts and what happens around them: sync runs, webhooks received, and the
log of every HTTP exchange."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import TenantOwnedModel, TenantQuerySet

from . import crypto
from .adapters import RESOURCES, NotSupported, registry
from .adapters.records import Capability

# (code, name) of every provider in providers.registry.
PROVIDER_CHOICES = registry.choices()


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class ProviderAccountQuerySet(TenantQuerySet):
    def active(self) -> ProviderAccountQuerySet:
        return self.filter(status=ProviderAccount.Status.ACTIVE)


class ProviderAccount(TenantOwnedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"  # last check or sync failed on authentication
        DISABLED = "disabled", "Disabled"
        # Marked by services.delete_account; tasks.delete_account_task removes it in batches.
        # Never synced, sent through or re-enabled meanwhile.
        DELETING = "deleting", "Deleting…"

    provider = models.CharField(max_length=16, choices=PROVIDER_CHOICES)
    name = models.CharField(max_length=120)
    base_url = models.URLField(blank=True, help_text="Leave empty for the provider's real API.")
    credentials_encrypted = models.TextField(editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    remote_account_id = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="subaccounts"
    )
    # Provider-specific settings: allowed_ips, login_as, service_provider_sid, currency …
    options = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    usage = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    usage_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    sync_enabled = models.BooleanField(default=True)
    sync_interval = models.PositiveIntegerField(default=15, help_text="Minutes between history syncs.")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sync_cursors = models.JSONField(default=dict, blank=True, editable=False)
    send_rate = models.FloatField(default=5.0, help_text="Messages per second sent through this account.")
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token, editable=False)
    remote_payload = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProviderAccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["tenant", "provider"], name="provacct_tenant_provider"),
            models.Index(fields=["status", "sync_enabled", "last_synced_at"], name="provacct_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "remote_account_id"],
                condition=models.Q(parent__isnull=False),
                name="provacct_unique_subaccount",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    # -- credentials (never shown, logged or serialized) -------------------------------
    @property
    def credentials(self) -> dict[str, str]:
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, credentials: dict[str, Any]) -> None:
        """Validates the shape for this provider (ValueError with a clear message)."""
        self.credentials_encrypted = crypto.encrypt_json(
            registry.adapter_class(self.provider).validate_credentials(credentials)
        )

    # The webhook secret (an HMAC key or signing secret), encrypted with the previous
    # one while it is still accepted after a rotation:
    # {"secret", "set_at", "previous", "previous_until"} (times ISO 8601).
    @property
    def _webhook_secret_data(self) -> dict[str, str]:
        return crypto.decrypt_json(self.webhook_secret_encrypted) if self.webhook_secret_encrypted else {}

    @property
    def webhook_secret(self) -> str:
        return self._webhook_secret_data.get("secret", "")

    @property
    def webhook_secrets(self) -> list[str]:
        """Every secret a signature may use now: the current one, and the previous one
        until its grace period after a rotation ends."""
        data = self._webhook_secret_data
        found = [data["secret"]] if data.get("secret") else []
        until = data.get("previous_until")
        if data.get("previous") and until and datetime.fromisoformat(until) > timezone.now():
            found.append(data["previous"])
        return found

    @property
    def webhook_secret_set_at(self) -> datetime | None:
        at = self._webhook_secret_data.get("set_at")
        return datetime.fromisoformat(at) if at else None

    @property
    def webhook_secret_previous_until(self) -> datetime | None:
        data = self._webhook_secret_data
        until = data.get("previous_until") if data.get("previous") else None
        return datetime.fromisoformat(until) if until else None

    def set_webhook_secret(self, secret: str, *, keep_previous_until: datetime | None = None) -> None:
        """Replace the secret; with `keep_previous_until`, the old one is accepted until then."""
        if not secret:
            self.webhook_secret_encrypted = ""
            return
        data = {"secret": secret, "set_at": timezone.now().isoformat()}
        old = self.webhook_secret
        if keep_previous_until is not None and old and old != secret:
            data |= {"previous": old, "previous_until": keep_previous_until.isoformat()}
        self.webhook_secret_encrypted = crypto.encrypt_json(data)

    @property
    def signs_webhooks(self) -> bool:
        return self.adapter_class.signs_webhooks

    @property
    def webhook_secret_missing(self) -> bool:
        """The provider signs its webhooks, but this account has no secret to check them."""
        return self.adapter_class.signs_webhooks and not self.webhook_secret_encrypted

    # -- capabilities and URLs -----------------------------------------------------------
    @property
    def adapter_class(self):
        return registry.adapter_class(self.provider)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.adapter_class.capabilities

    def can(self, capability: Capability | str) -> bool:
        return Capability(capability) in self.capabilities

    def require(self, capability: Capability, what: str) -> None:
        """NotSupported, naming the provider and `what` ("creating subaccounts"), unless the
        provider can do `capability`."""
        if not self.can(capability):
            raise NotSupported(f"{self.adapter_class.name} does not support {what}.")

    @property
    def effective_base_url(self) -> str:
        return self.base_url or self.adapter_class.default_base_url

    def webhook_url(self, kind: str) -> str:
        return f"{settings.PUBLIC_BASE_URL}/hooks/{self.provider}/{self.webhook_token}/{kind}/"

    @property
    def webhook_urls(self) -> dict[str, str]:
        return {kind: self.webhook_url(kind) for kind in self.adapter_class.webhook_kinds}

    @property
    def is_subaccount(self) -> bool:
        return self.parent_id is not None

    def is_due(self, now=None) -> bool:
        now = now or timezone.now()
        if self.last_synced_at is None:
            return True
        return (now - self.last_synced_at).total_seconds() >= self.sync_interval * 60


class SyncRun(TenantOwnedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        DASHBOARD = "dashboard", "Dashboard"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"
        WEBHOOK = "webhook", "Webhook"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {resource: {"status", "pages", "fetched", "created", "updated", "error",
    #             "cursor_before", "cursor_after"}} for each resource of RESOURCES.
    resources = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="syncrun_tenant_created"),
            models.Index(fields=["account", "-created_at"], name="syncrun_account_created"),
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} of {self.account_id} ({self.status})"

    @property
    def progress(self) -> dict[str, Any]:
        """For the UI: resources finished out of those attempted, and rows seen so far."""
        done = sum(
            1 for r in self.resources.values() if r.get("status") in ("succeeded", "failed", "skipped")
        )
        return {
            "resources_done": done,
            "resources_total": len(RESOURCES),
            "fetched": sum(r.get("fetched", 0) for r in self.resources.values()),
            "pages": sum(r.get("pages", 0) for r in self.resources.values()),
        }

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class WebhookEvent(TenantOwnedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="webhook_events")
    provider = models.CharField(max_length=16, choices=PROVIDER_CHOICES)
    kind = models.CharField(max_length=32)
    # The provider's event id, or the SHA-256 of the raw body where there is none.
    event_key = models.CharField(max_length=128)
    method = models.CharField(max_length=8, default="POST")
    headers = models.JSONField(default=dict, blank=True)
    query = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    applied_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "event_key"], name="webhookevent_unique_key")
        ]
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="webhookevent_tenant_recv"),
            models.Index(fields=["status", "received_at"], name="webhookevent_status"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.event_key[:12]}"


class ProviderLog(TenantOwnedModel):
    """One HTTP exchange with a provider, redacted and size-capped (the debugger view)."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="logs")
    method = models.CharField(max_length=8)
    url = models.TextField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="providerlog_tenant_created"),
            models.Index(fields=["account", "-created_at"], name="providerlog_account_created"),
            models.Index(fields=["created_at"], name="providerlog_created"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status}"


class SyncedPage(TenantOwnedModel):
    """A page of history a sync wrote, by a digest of its records (providers.page_memory):
    the same page fetched again — a rerun over unchanged history, an overlap window — is
    not written a second time. Kept SYNC_PAGE_MEMORY_DAYS after it was last seen."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+", db_index=False)
    resource = models.CharField(max_length=16)
    digest = models.BinaryField(max_length=16)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "resource", "digest"], name="syncedpage_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "account"], name="syncedpage_tenant_account"),
            models.Index(fields=["seen_at"], name="syncedpage_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} page {bytes(self.digest).hex()[:12]}"
