from __future__ import annotations

from rest_framework import serializers

from accounts.serializers import from_to_fields

from .models import Call, CallLeg, Recording


class CallLegSerializer(serializers.ModelSerializer):
    from_to_fields(locals())

    class Meta:
        model = CallLeg
        fields = ["position", "from", "to", "state", "raw_state", "duration", "remote_id"]
        read_only_fields = fields


class CallSerializer(serializers.ModelSerializer):
    from_to_fields(locals())
    cost = serializers.DecimalField(max_digits=12, decimal_places=4, read_only=True, allow_null=True)
    legs = CallLegSerializer(many=True, read_only=True)
    recordings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "provider_account",
            "subaccount",
            "number",
            "remote_id",
            "direction",
            "from",
            "to",
            "state",
            "raw_state",
            "duration",
            "cost",
            "cost_estimated",
            "currency",
            "legs",
            "recordings",
            "created_at",
            "answered_at",
            "ended_at",
        ]
        read_only_fields = fields


class RecordingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Recording
        fields = [
            "id",
            "provider_account",
            "subaccount",
            "call",
            "remote_id",
            "call_remote_id",
            "duration",
            "size",
            "content_type",
            "fetch_status",
            "created_at",
            "fetched_at",
        ]
        read_only_fields = fields
