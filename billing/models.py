"""Usage rollups: one row per (tenant, account, subaccount, kind, direction, day, currency),
kept current incrementally by importers and sends. Charts and statements read these."""

from __future__ import annotations

from django.db import models

from accounts.models import TenantOwnedModel
from providers.models import ProviderAccount


class UsageKind(models.TextChoices):
    SMS = "sms", "SMS"
    MMS = "mms", "MMS"
    CALL = "call", "Call"
    NUMBER = "number", "Number rental"


class DailyUsage(TenantOwnedModel):
    provider_account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    subaccount = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=UsageKind.choices)
    direction = models.CharField(max_length=8)  # inbound / outbound ("" for numbers)
    day = models.DateField(help_text="In the tenant's time zone.")
    currency = models.CharField(max_length=3, blank=True)  # "" while unpriced
    count = models.BigIntegerField(default=0)
    parts = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider_account", "subaccount", "kind", "direction", "day", "currency"],
                name="dailyusage_unique_key",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="dailyusage_tenant_day")]
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.direction} ×{self.count}"
