from __future__ import annotations

from rest_framework import serializers

from accounts.serializers import from_to_fields

from .models import Message, MessageMedia


class MessageMediaSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageMedia
        fields = [
            "id",
            "message",
            "remote_id",
            "content_type",
            "size",
            "digest",
            "fetch_status",
            "created_at",
            "fetched_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    from_to_fields(locals())
    cost = serializers.DecimalField(max_digits=18, decimal_places=4, read_only=True, allow_null=True)
    media = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "provider_account",
            "subaccount",
            "number",
            "remote_id",
            "kind",
            "direction",
            "from",
            "to",
            "body",
            "status",
            "raw_status",
            "error",
            "parts",
            "encoding",
            "cost",
            "cost_estimated",
            "currency",
            "media",
            "created_at",
            "sent_at",
            "delivered_at",
        ]
        read_only_fields = fields


class ConversationSerializer(serializers.Serializer):
    our_number = serializers.CharField()
    counterpart = serializers.CharField()
    message_count = serializers.IntegerField()
    last_activity_at = serializers.DateTimeField()
    last_message = MessageSerializer(allow_null=True)
