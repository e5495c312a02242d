"""Phone numbers held at the providers, as last seen by a sync, plus our own note."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import TenantOwnedModel
from providers.models import ProviderAccount


class Capability(models.TextChoices):
    SMS = "sms", "SMS"
    MMS = "mms", "MMS"
    VOICE = "voice", "Voice"


class Category(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    FIXED = "fixed", "Fixed line"
    VOIP = "voip", "VoIP"
    TOLLFREE = "tollfree", "Toll-free"
    OTHER = "other", "Other"


# Our note on a number (API and dashboard): a few lines, not a document.
PURPOSE_MAX_CHARS = 2000


class PhoneNumber(TenantOwnedModel):
    number = models.CharField(max_length=20, help_text="E.164, e.g. +46700000000.")
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="phone_numbers", help_text="Root account."
    )
    subaccount = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="subaccount_numbers"
    )
    remote_id = models.CharField(max_length=64)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    capabilities = ArrayField(
        models.CharField(max_length=8, choices=Capability.choices), default=list, blank=True
    )
    # Providers use their own words at times; unknown ones are kept as given.
    category = models.CharField(max_length=16, blank=True, choices=Category.choices)
    active = models.BooleanField(default=True)
    # Webhook routing as configured at the provider.
    sms_url = models.URLField(max_length=500, blank=True)
    mms_url = models.URLField(max_length=500, blank=True)
    voice_url = models.URLField(max_length=500, blank=True)
    name = models.CharField(max_length=200, blank=True)
    purpose = models.TextField(blank=True, help_text="Our note; a sync never changes it.")
    allocated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    monthly_cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_account", "remote_id"], name="phonenumber_unique_remote"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "number"], name="phonenumber_tenant_number"),
            models.Index(fields=["tenant", "provider_account", "active"], name="phonenumber_tenant_account"),
            models.Index(fields=["tenant", "-created_at"], name="phonenumber_tenant_created"),
        ]

    def __str__(self) -> str:
        return self.number
