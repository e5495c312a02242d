"""Usage rollups: one row per (tenant, account, subaccount, kind, direction, day, currency),
kept current incrementally by importers and sends. Charts and statements read these."""

from __future__ import annotations

from django.db import models

from accounts.models import Tenant, TenantOwnedModel, TenantQuerySet
from providers.models import ProviderAccount

from . import ledger


class UsageKind(models.TextChoices):
    SMS = "sms", "SMS"
    MMS = "mms", "MMS"
    CALL = "call", "Call"
    NUMBER = "number", "Number rental"


class DailyUsageQuerySet(TenantQuerySet):
    def for_tenant(self, tenant: Tenant | int) -> TenantQuerySet:
        """The tenant's rollups with its pending ledger entries folded in first, so every
        tenant read sees rollup + tail (see billing.usage)."""
        qs = super().for_tenant(tenant)
        ledger.fold_all(tenant if isinstance(tenant, int) else tenant.pk)
        return qs


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

    objects = DailyUsageQuerySet.as_manager()

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


class UsageEntry(TenantOwnedModel):
    """An insert-only ledger of rollup differences. Sends, webhooks and imports append here
    (no row that another send also needs is locked); `billing.usage.fold_usage` moves the
    entries into `DailyUsage` in batches, one tenant at a time."""

    id = models.BigAutoField(primary_key=True)
    provider_account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    subaccount = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=UsageKind.choices)
    direction = models.CharField(max_length=8)
    day = models.DateField()
    currency = models.CharField(max_length=3, blank=True)
    count = models.BigIntegerField(default=0)
    parts = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=4, default=0)

    class Meta:
        db_table = ledger.LEDGER_TABLE
        indexes = [models.Index(fields=["tenant", "id"], name="usageentry_tenant_id")]
        verbose_name_plural = "usage entries"

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.direction} {self.count:+d}"


class BillingSettings(models.Model):
    """A tenant's caps, alert levels and re-billing markup (one row per tenant, optional)."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="billing")
    monthly_spend_cap = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    spend_cap_currency = models.CharField(max_length=3, blank=True)
    monthly_message_cap = models.PositiveIntegerField(null=True, blank=True)
    low_balance_threshold = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Alert when a provider balance falls below this (in the account's currency).",
    )
    markup_percent = models.DecimalField(
        max_digits=6, decimal_places=2, default=0, help_text="Added to costs on statements for re-billing."
    )
    alert_emails = models.BooleanField(default=True, help_text="Email owners and admins on alerts.")

    class Meta:
        verbose_name_plural = "billing settings"

    def __str__(self) -> str:
        return f"Billing settings of {self.tenant}"


class UsageCounter(TenantOwnedModel):
    """This month's usage toward the tenant's caps, moved only by conditional UPDATEs so
    two concurrent sends can never both take the last unit."""

    period = models.DateField(help_text="First day of the month, tenant time.")
    currency = models.CharField(max_length=3, blank=True)
    messages = models.BigIntegerField(default=0)
    spent = models.DecimalField(max_digits=18, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period", "currency"], name="usagecounter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period:%Y-%m}: {self.messages} msgs, {self.spent} {self.currency}"


class BalanceSnapshot(TenantOwnedModel):
    provider_account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="balances")
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    credit_alert = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    taken_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [
            models.Index(fields=["tenant", "provider_account", "-taken_at"], name="balance_tenant_acct_taken")
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} at {self.taken_at:%Y-%m-%d %H:%M}"


class Notification(TenantOwnedModel):
    """An in-app alert. (kind, key, period) is unique: each threshold fires once per period."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    kind = models.CharField(max_length=32)  # spend_cap, message_cap, low_balance, credit_alert
    key = models.CharField(max_length=64)  # e.g. "80" or "account:12"
    period = models.CharField(max_length=16)  # "2026-11" or "2026-11-23"
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.WARNING)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "key", "period"], name="notification_once")
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="notification_tenant_created")]

    def __str__(self) -> str:
        return self.title


class NumberRental(TenantOwnedModel):
    """One month's rental of one number, charged once: the row makes it idempotent."""

    number = models.ForeignKey("numbers.PhoneNumber", on_delete=models.CASCADE, related_name="+")
    period = models.DateField(help_text="First day of the month, tenant time.")
    cost = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["number", "period"], name="numberrental_once")]
        indexes = [models.Index(fields=["tenant", "period"], name="numberrental_tenant_period")]

    def __str__(self) -> str:
        return f"{self.number_id} {self.period:%Y-%m}: {self.cost} {self.currency}"
