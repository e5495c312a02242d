"""Calls, their legs and recordings, as the providers report them (one write path:
calls.importers) plus what we add: our number, an estimated cost, send attempts."""

from __future__ import annotations

import posixpath

from django.db import models

from accounts.models import TenantOwnedModel
from providers.models import ProviderAccount


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class CallState(models.TextChoices):
    QUEUED = "queued", "Queued"
    # Our own calls: claimed by a worker, the request in flight (outbound.delivery) …
    PLACING = "placing", "Placing"
    # … and accepted without an id (e.g. a click-to-dial request): the sync brings the call.
    REQUESTED = "requested", "Requested"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no_answer", "No answer"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    UNKNOWN = "unknown", "Unknown"


# Calls only move forward: a report ranked below the stored state is stale. All final
# states share the top rank, so the first final state reported wins.
STATE_RANK: dict[str, int] = {
    # unknown ranks at core.bulk.UNKNOWN_RANK (0), below every known state, as for messages.
    CallState.UNKNOWN: 0,
    CallState.QUEUED: 1,
    CallState.PLACING: 1,
    CallState.REQUESTED: 1,
    CallState.RINGING: 2,
    CallState.IN_PROGRESS: 3,
    CallState.COMPLETED: 4,
    CallState.BUSY: 4,
    CallState.NO_ANSWER: 4,
    CallState.FAILED: 4,
    CallState.CANCELED: 4,
}
FINAL_RANK = 4
FINAL_STATES = frozenset(s for s, rank in STATE_RANK.items() if rank == FINAL_RANK)


class Call(TenantOwnedModel):
    provider_account = models.ForeignKey(
        ProviderAccount,
        on_delete=models.CASCADE,
        related_name="calls",
        # call_unique_remote leads with it. A second, smaller index on the account alone
        # looked as good as that one to the planner for a new account (no statistics yet),
        # and every record of a sync page then scanned all of the account's calls.
        db_index=False,
        help_text="Root account.",
    )
    subaccount = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="subaccount_calls"
    )
    number = models.ForeignKey(
        "numbers.PhoneNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        help_text="Our number on this call.",
    )
    remote_id = models.CharField(max_length=64, blank=True, help_text="Empty while queued.")
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=CallState.choices, default=CallState.QUEUED)
    raw_state = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    cost_estimated = models.BooleanField(default=False)
    actions = models.JSONField(default=list, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Our calls only (calls.services): the request's hash and the last attempt's error.
    request_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the call request, to tell a replay from a conflict."
    )
    error = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_account", "remote_id"],
                condition=~models.Q(remote_id=""),
                name="call_unique_remote",
            ),
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="call_unique_idempotency"),
        ]
        indexes = [
            # cross-tenant: the operators' admin changelist, newest first
            models.Index(fields=["-created_at", "-id"], name="call_created_id"),
            models.Index(fields=["tenant", "-created_at"], name="call_tenant_created"),
            models.Index(fields=["tenant", "provider_account", "-created_at"], name="call_tenant_account"),
            models.Index(fields=["tenant", "state", "-created_at"], name="call_tenant_state"),
            models.Index(fields=["tenant", "direction", "-created_at"], name="call_tenant_direction"),
            models.Index(fields=["tenant", "number", "-created_at"], name="call_tenant_number"),
            models.Index(fields=["tenant", "from_number"], name="call_tenant_from"),
            models.Index(fields=["tenant", "to_number"], name="call_tenant_to"),
            # A sync's reconciliation: our outbound calls the provider has not named yet
            # (tiny: every synced call has its remote id), looked up per number called.
            models.Index(
                fields=["tenant", "provider_account", "to_number"],
                condition=models.Q(remote_id=""),
                name="call_unmatched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_number} → {self.to_number} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class CallLeg(TenantOwnedModel):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="legs")
    position = models.PositiveSmallIntegerField()
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=CallState.choices, default=CallState.UNKNOWN)
    raw_state = models.CharField(max_length=32, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["call", "position"]
        constraints = [models.UniqueConstraint(fields=["call", "position"], name="callleg_unique_position")]
        indexes = [models.Index(fields=["tenant", "call"], name="callleg_tenant_call")]

    def __str__(self) -> str:
        return f"Leg {self.position}: {self.from_number} → {self.to_number}"


def recording_path(instance: Recording, filename: str) -> str:
    # Per tenant, so a tenant's files can be listed, exported or purged together.
    return posixpath.join("recordings", str(instance.tenant_id), filename)


class Recording(TenantOwnedModel):
    class FetchStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        FETCHED = "fetched", "Fetched"
        FAILED = "failed", "Failed"

    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="recordings", help_text="Root account."
    )
    subaccount = models.ForeignKey(
        ProviderAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subaccount_recordings",
    )
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="recordings"
    )
    remote_id = models.CharField(max_length=64)
    call_remote_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes.")
    content_type = models.CharField(max_length=64, blank=True)
    file = models.FileField(upload_to=recording_path, max_length=300, blank=True)
    fetch_status = models.CharField(max_length=8, choices=FetchStatus.choices, default=FetchStatus.PENDING)
    fetch_error = models.TextField(blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider_account", "remote_id"], name="recording_unique_remote")
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="recording_tenant_created"),
            models.Index(fields=["tenant", "call"], name="recording_tenant_call"),
            models.Index(
                fields=["tenant", "provider_account", "call_remote_id"], name="recording_tenant_callremote"
            ),
            models.Index(fields=["tenant", "fetch_status", "-created_at"], name="recording_tenant_fetch"),
        ]

    def __str__(self) -> str:
        return f"Recording {self.remote_id}"
