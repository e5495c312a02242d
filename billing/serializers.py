from rest_framework import serializers

from core.api_fields import StrictBooleanField

from .models import BalanceSnapshot, BillingSettings, Notification

GROUPS = ("day", "month", "provider_account", "subaccount", "kind", "direction")


class UsageQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day (tenant time), inclusive.")
    end = serializers.DateField(help_text="Last day (tenant time), inclusive.")
    group_by = serializers.CharField(
        default="day", help_text=f"Comma-separated, any of: {', '.join(GROUPS)}."
    )
    provider_account = serializers.IntegerField(required=False)
    kind = serializers.ChoiceField(choices=["sms", "mms", "call", "number"], required=False)
    direction = serializers.ChoiceField(choices=["inbound", "outbound"], required=False)

    MAX_DAYS = 731

    def validate_group_by(self, value: str) -> list[str]:
        groups = [g.strip() for g in value.split(",") if g.strip()]
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown:
            raise serializers.ValidationError(f"Unknown group(s): {', '.join(unknown)}.")
        if "day" in groups and "month" in groups:
            raise serializers.ValidationError("Group by day or by month, not both.")
        return groups

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["end is before start."]})
        if (attrs["end"] - attrs["start"]).days > self.MAX_DAYS:
            raise serializers.ValidationError({"end": [f"At most {self.MAX_DAYS} days per query."]})
        return attrs


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField(required=False)
    month = serializers.CharField(required=False, help_text="YYYY-MM")
    provider_account = serializers.IntegerField(required=False)
    subaccount = serializers.IntegerField(required=False, allow_null=True)
    kind = serializers.CharField(required=False)
    direction = serializers.CharField(required=False)
    currency = serializers.CharField()
    count = serializers.IntegerField()
    parts = serializers.IntegerField()
    seconds = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)


class BalanceSnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = BalanceSnapshot
        fields = ["id", "provider_account", "amount", "currency", "credit_alert", "taken_at"]
        read_only_fields = fields


class LatestBalanceSerializer(serializers.Serializer):
    provider_account = serializers.IntegerField()
    provider_account_name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=4)
    currency = serializers.CharField()
    credit_alert = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)
    taken_at = serializers.DateTimeField()
    days_left = serializers.DecimalField(
        max_digits=10, decimal_places=1, allow_null=True, help_text="At the last 7 days' burn rate."
    )


class StatementLineSerializer(serializers.Serializer):
    provider_account = serializers.IntegerField(source="provider_account_id")
    provider_account_name = serializers.CharField(source="provider_account")
    subaccount = serializers.IntegerField(source="subaccount_id", allow_null=True)
    subaccount_name = serializers.CharField(source="subaccount")
    kind = serializers.CharField()
    currency = serializers.CharField()
    count = serializers.IntegerField()
    parts = serializers.IntegerField()
    seconds = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)
    billed = serializers.DecimalField(max_digits=18, decimal_places=2)


class StatementTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)
    billed = serializers.DecimalField(max_digits=18, decimal_places=2)


class StatementSerializer(serializers.Serializer):
    month = serializers.CharField()
    markup_percent = serializers.DecimalField(max_digits=6, decimal_places=2)
    lines = StatementLineSerializer(many=True)
    totals = StatementTotalSerializer(many=True)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "key", "period", "level", "title", "body", "created_at", "read_at"]
        read_only_fields = fields


class BillingSettingsSerializer(serializers.ModelSerializer):
    alert_emails = StrictBooleanField(required=False, help_text="Email owners and admins on alerts.")

    class Meta:
        model = BillingSettings
        fields = [
            "monthly_spend_cap",
            "spend_cap_currency",
            "monthly_message_cap",
            "low_balance_threshold",
            "markup_percent",
            "alert_emails",
        ]

    def validate(self, attrs):
        cap = attrs.get("monthly_spend_cap", getattr(self.instance, "monthly_spend_cap", None))
        currency = attrs.get("spend_cap_currency", getattr(self.instance, "spend_cap_currency", ""))
        if cap is not None and len(currency or "") != 3:
            raise serializers.ValidationError({"spend_cap_currency": ["A spend cap needs its ISO currency."]})
        return attrs
