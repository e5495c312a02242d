from __future__ import annotations

from rest_framework import serializers

from accounts.serializers import from_to_fields
from core.phone_input import validate_phone_text

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
            "error",
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


class PlaceCallSerializer(serializers.Serializer):
    """POST /calls/: whom to call and what to do once they answer."""

    provider_account = serializers.IntegerField()
    locals()["from"] = serializers.CharField(
        max_length=200,
        help_text="A number you hold there (or what the provider calls from: a PBX extension or endpoint).",
    )
    to = serializers.CharField(max_length=64, validators=[validate_phone_text])
    action = serializers.DictField(help_text='{"connect": "+46…"} or {"play": "https://…"}.')
    timeout = serializers.IntegerField(default=60, help_text="Seconds to ring, 1 to 600.")
