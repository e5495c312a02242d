from __future__ import annotations

from rest_framework import serializers

from accounts.serializers import from_to_fields
from core.phone_input import validate_phone_text

from .csv_upload import BadCsv, recipients_csv_text
from .models import BulkSend, Message, MessageMedia


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


# -- sending ---------------------------------------------------------------------------------
class SendMessageSerializer(serializers.Serializer):
    """POST /messages/: what to send. Validation beyond shapes happens in messaging.services."""

    provider_account = serializers.IntegerField(help_text="Id of the provider account to send through.")
    locals()["from"] = serializers.CharField(
        max_length=64, help_text="A number you hold there (E.164), or an alphanumeric sender id."
    )
    to = serializers.CharField(
        max_length=64, validators=[validate_phone_text], help_text="E.164, e.g. +46701234567."
    )
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    kind = serializers.ChoiceField(choices=["sms", "mms"], default="sms")
    media = serializers.ListField(
        child=serializers.URLField(), required=False, default=list, help_text="MMS image URLs."
    )


class BulkSendRequestSerializer(serializers.Serializer):
    """POST /messages/bulk/: JSON with `recipients`, or multipart with a CSV `file`."""

    provider_account = serializers.IntegerField()
    locals()["from"] = serializers.CharField(max_length=64)
    body = serializers.CharField(trim_whitespace=False)
    recipients = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    file = serializers.FileField(
        required=False, help_text="CSV: one recipient per row (first column, or a to/number/phone column)."
    )

    def validate_file(self, upload) -> str:
        """The CSV as text: a binary or unreadable file is a 400 naming the problem."""
        try:
            return recipients_csv_text(upload)
        except BadCsv as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs):
        if not attrs.get("recipients") and not attrs.get("file"):
            raise serializers.ValidationError({"recipients": ["Give recipients or a CSV file."]})
        return attrs


class InvalidRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    value = serializers.CharField()
    reason = serializers.CharField()


class BulkProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Queued or on their way to the provider.")
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField(help_text="Outcome unknown until the next history sync.")
    done = serializers.BooleanField()


class BulkSendSerializer(serializers.ModelSerializer):
    locals()["from"] = serializers.CharField(source="from_number", read_only=True)
    invalid_rows = InvalidRowSerializer(many=True, read_only=True)
    progress = BulkProgressSerializer(read_only=True)

    class Meta:
        model = BulkSend
        fields = [
            "id",
            "account",
            "from",
            "body",
            "total",
            "queued",
            "invalid_rows",
            "progress",
            "created_at",
        ]
        read_only_fields = fields


class EstimateRequestSerializer(serializers.Serializer):
    provider_account = serializers.IntegerField()
    locals()["from"] = serializers.CharField(max_length=64)
    to = serializers.CharField(max_length=64)
    body = serializers.CharField(trim_whitespace=False)


class EstimateSerializer(serializers.Serializer):
    cost = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)
    currency = serializers.CharField(allow_blank=True)
    parts = serializers.IntegerField(allow_null=True)
    source = serializers.ChoiceField(
        choices=["dryrun", "history", "none"], help_text="The provider's dry run, or our recent costs."
    )
    reason = serializers.CharField(
        allow_blank=True, help_text="Why there is no estimate, when there is none."
    )
