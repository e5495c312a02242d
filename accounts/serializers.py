from rest_framework import serializers

from .models import ALL_SCOPES, ApiKey, AuditLog, Tenant


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "timezone", "default_currency", "active"]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(ALL_SCOPES)), allow_empty=False
    )
    created_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "scopes", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret; shown only in this response.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class AuditLogSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    api_key = serializers.SlugRelatedField(slug_field="prefix", read_only=True, allow_null=True)

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "action",
            "actor",
            "api_key",
            "object_type",
            "object_id",
            "summary",
            "data",
            "created_at",
        ]
        read_only_fields = fields


def from_to_fields(namespace: dict) -> None:
    """Declare `from` / `to` (for from_number / to_number) in a serializer's class body;
    `from` is a Python keyword, so it cannot be written as an attribute."""
    namespace["from"] = serializers.CharField(source="from_number", read_only=True)
    namespace["to"] = serializers.CharField(source="to_number", read_only=True)
