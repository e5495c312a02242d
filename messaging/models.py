"""SMS and MMS history: every message a tenant sent or received through any provider, as
last seen by a sync, a webhook or our own send. Rows are written by `messaging.importers`
(provider records) and `messaging.services` (our sends) only."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from accounts.models import Tenant, TenantOwnedModel
from providers.adapters.records import Direction, MessageKind, MessageStatus
from providers.models import ProviderAccount


class Kind(models.TextChoices):
    SMS = MessageKind.SMS.value, "SMS"
    MMS = MessageKind.MMS.value, "MMS"


class DirectionChoice(models.TextChoices):
    INBOUND = Direction.INBOUND.value, "Inbound"
    OUTBOUND = Direction.OUTBOUND.value, "Outbound"


class Status(models.TextChoices):
    QUEUED = MessageStatus.QUEUED.value, "Queued"
    SENDING = MessageStatus.SENDING.value, "Sending"
    SENT = MessageStatus.SENT.value, "Sent"
    DELIVERED = MessageStatus.DELIVERED.value, "Delivered"
    FAILED = MessageStatus.FAILED.value, "Failed"
    RECEIVED = MessageStatus.RECEIVED.value, "Received"
    UNKNOWN = MessageStatus.UNKNOWN.value, "Unknown"


# How far along a message is; a status only ever moves to a higher rank. Delivered and
# failed are both final for an outbound message, received is final for an inbound one,
# and unknown gives way to anything known. Mirrored in SQL by importers.STATUS_RANK_SQL.
STATUS_RANK: dict[str, int] = {
    Status.UNKNOWN: 0,
    Status.QUEUED: 1,
    Status.SENDING: 2,
    Status.SENT: 3,
    Status.DELIVERED: 4,
    Status.FAILED: 4,
    Status.RECEIVED: 5,
}


class Encoding(models.TextChoices):
    GSM7 = "gsm7", "GSM-7"
    UCS2 = "ucs2", "UCS-2"
    UNKNOWN = "", "Unknown"


class Message(TenantOwnedModel):
    # The composite indexes below lead with tenant; a lone tenant index would only cost writes.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=3, choices=Kind.choices, default=Kind.SMS)
    direction = models.CharField(max_length=8, choices=DirectionChoice.choices)
    # E.164, or an alphanumeric sender id on outbound messages.
    from_number = models.CharField(max_length=32)
    to_number = models.CharField(max_length=32)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    raw_status = models.CharField(max_length=64, blank=True, help_text="The provider's own word.")
    error = models.TextField(blank=True)
    parts = models.PositiveIntegerField(null=True, blank=True)
    encoding = models.CharField(max_length=8, choices=Encoding.choices, blank=True)
    cost = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    cost_estimated = models.BooleanField(
        default=False, help_text="Our estimate; replaced when the provider prices the message."
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    provider_account = models.ForeignKey(
        ProviderAccount,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,  # message_unique_remote leads with it
        help_text="Root account.",
    )
    subaccount = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="subaccount_messages"
    )
    number = models.ForeignKey(
        "numbers.PhoneNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="Our number, when one end of the message is ours.",
    )
    remote_id = models.CharField(max_length=128, blank=True, help_text="Blank until the provider accepts it.")
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    # Our sends only (messaging.services): what the send needs later and what it took.
    billing_reservation = models.JSONField(
        null=True, blank=True, help_text="billing.limits Reservation, until the send settles or fails."
    )
    request_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the send request, to tell a replay from a conflict."
    )
    media_urls = models.JSONField(default=list, blank=True, help_text="MMS images to send.")
    bulk_send = models.ForeignKey(
        "BulkSend", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_account", "remote_id"],
                condition=~models.Q(remote_id=""),
                name="message_unique_remote",
            ),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="message_unique_idempotency",
            ),
        ]
        # Lists are newest first with keyset pagination on (created_at, id), so every list
        # index ends in created_at, id and serves both the filter and the order.
        indexes = [
            # cross-tenant: the operators' admin changelist, newest first
            models.Index(fields=["-created_at", "-id"], name="message_created_id"),
            # cross-tenant: text search (`q`, icontains = UPPER(body) LIKE …) through trigrams; a
            # GIN index cannot lead with the tenant, whose filter applies to the bitmap instead.
            GinIndex(OpClass(Upper("body"), name="gin_trgm_ops"), name="message_body_trgm"),
            models.Index(fields=["tenant", "-created_at", "-id"], name="message_tenant_created"),
            models.Index(
                fields=["tenant", "provider_account", "-created_at", "-id"], name="message_tenant_account"
            ),
            models.Index(fields=["tenant", "status", "-created_at", "-id"], name="message_tenant_status"),
            models.Index(
                fields=["tenant", "direction", "-created_at", "-id"], name="message_tenant_direction"
            ),
            models.Index(fields=["tenant", "from_number", "-created_at"], name="message_tenant_from"),
            models.Index(fields=["tenant", "to_number", "-created_at"], name="message_tenant_to"),
            models.Index(fields=["tenant", "number", "-created_at"], name="message_tenant_number"),
            # Sends whose outcome is unknown, waiting for a sync to match them: a tiny index.
            models.Index(
                fields=["tenant", "provider_account", "to_number"],
                condition=models.Q(remote_id=""),
                name="message_unmatched",
            ),
            # The sweeper's scan: our sends still queued, oldest first (tiny: most rows are not).
            models.Index(
                fields=["tenant", "last_attempt_at"],
                condition=models.Q(status="queued", direction="outbound"),
                name="message_queued_sends",
            ),
            # A bulk's progress counts its messages by status from this index alone.
            models.Index(
                fields=["tenant", "bulk_send", "status"],
                condition=models.Q(bulk_send__isnull=False),
                name="message_tenant_bulk_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.from_number} → {self.to_number} ({self.status})"


class BulkSend(TenantOwnedModel):
    """One message to many recipients (a list or a CSV upload): one Message per valid
    recipient, the invalid rows kept with their line and reason."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="bulk_sends")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    from_number = models.CharField(max_length=32)
    body = models.TextField()
    idempotency_key = models.CharField(max_length=128, help_text="Derives each message's key.")
    total = models.PositiveIntegerField(default=0, help_text="Rows submitted.")
    queued = models.PositiveIntegerField(default=0, help_text="Messages created.")
    invalid_rows = models.JSONField(default=list, blank=True, help_text='[{"line", "value", "reason"}]')

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="bulksend_unique_idempotency")
        ]
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="bulksend_tenant_created")]

    def __str__(self) -> str:
        return f"Bulk send #{self.pk} ({self.queued}/{self.total})"

    @property
    def progress(self) -> dict[str, int]:
        """Counts of this bulk's messages by stage, for the UI and the API."""
        counts = dict(
            self.messages.values_list("status").annotate(n=models.Count("id")).values_list("status", "n")
        )
        sent = counts.get(Status.SENT, 0)
        delivered = counts.get(Status.DELIVERED, 0)
        failed = counts.get(Status.FAILED, 0)
        unknown = counts.get(Status.UNKNOWN, 0)
        pending = sum(counts.values()) - sent - delivered - failed - unknown
        return {
            "total": self.queued,
            "pending": pending,
            "sent": sent,
            "delivered": delivered,
            "failed": failed,
            "unknown": unknown,
            "done": pending == 0,
        }


def media_upload_to(instance: MessageMedia, filename: str) -> str:
    # Per tenant, so a tenant's files can be listed, exported or purged together.
    return f"messaging/{instance.tenant_id}/{timezone.now():%Y/%m}/{filename}"


class MessageMedia(TenantOwnedModel):
    class FetchStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        FETCHED = "fetched", "Fetched"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    # messagemedia_unique_remote leads with message, so no separate index.
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="media", db_index=False)
    remote_id = models.CharField(max_length=128)
    digest = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the bytes, hex.")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes.")
    content_type = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to=media_upload_to, max_length=300, blank=True)
    fetch_status = models.CharField(max_length=8, choices=FetchStatus.choices, default=FetchStatus.PENDING)
    fetch_error = models.TextField(blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    fetched_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "remote_id"], name="messagemedia_unique_remote")
        ]
        indexes = [
            models.Index(fields=["tenant", "fetch_status"], name="messagemedia_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.remote_id} ({self.fetch_status})"
