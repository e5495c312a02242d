from __future__ import annotations

from rest_framework import serializers

from .models import PURPOSE_MAX_CHARS, PhoneNumber


class PhoneNumberSerializer(serializers.ModelSerializer):
    # Blank where the provider set nothing, and categories outside our list are kept as
    # given: plain strings, not URIs or an enum.
    category = serializers.CharField(read_only=True)
    sms_url = serializers.CharField(read_only=True)
    mms_url = serializers.CharField(read_only=True)
    voice_url = serializers.CharField(read_only=True)
    purpose = serializers.CharField(
        required=False, allow_blank=True, max_length=PURPOSE_MAX_CHARS, help_text="Our note on the number."
    )

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "provider_account",
            "subaccount",
            "number",
            "remote_id",
            "country",
            "capabilities",
            "category",
            "active",
            "name",
            "purpose",
            "sms_url",
            "mms_url",
            "voice_url",
            "allocated_at",
            "expires_at",
            "monthly_cost",
            "currency",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f != "purpose"]


class AllocateNumberSerializer(serializers.Serializer):
    """POST /numbers/: rent a new number at one of the tenant's provider accounts."""

    provider_account = serializers.IntegerField(help_text="A provider account (or subaccount) id.")
    country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. SE.")
    capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=["sms", "mms", "voice"]),
        allow_empty=False,
        default=lambda: ["sms", "voice"],
    )


class ConfigureNumberSerializer(serializers.Serializer):
    """POST /numbers/{id}/configure/: a field left out is unchanged, "" clears it."""

    sms_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    mms_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    voice_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
