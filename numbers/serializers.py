from __future__ import annotations

from rest_framework import serializers

from .models import PhoneNumber


class PhoneNumberSerializer(serializers.ModelSerializer):
    # Blank where the provider set nothing, and categories outside our list are kept as
    # given: plain strings, not URIs or an enum.
    category = serializers.CharField(read_only=True)
    sms_url = serializers.CharField(read_only=True)
    mms_url = serializers.CharField(read_only=True)
    voice_url = serializers.CharField(read_only=True)

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
