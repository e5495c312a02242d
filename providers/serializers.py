"""API shapes of provider accounts and what happens around them. Credentials are
write-only: validated against the adapter's accepted shapes, encrypted, never returned."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api_fields import StrictBooleanField

from . import services
from .adapters import NotSupported, registry
from .models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent

CURRENCY = re.compile(r"^[A-Z]{3}$")


def normalize_currency(value: str) -> str:
    value = (value or "").upper()
    if value and not CURRENCY.match(value):
        raise serializers.ValidationError("An ISO 4217 code of three letters, e.g. SEK.")
    return value


class ProviderAccountSerializer(serializers.ModelSerializer):
    provider = serializers.ChoiceField(choices=registry.choices())
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        write_only=True,
        required=False,
        help_text=registry.credential_shapes_help() + " Required on create; never returned.",
    )
    base_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=registry.base_url_help() + " https to a public host.",
    )
    webhook_urls = serializers.SerializerMethodField()
    webhook_secret_set = serializers.SerializerMethodField(
        help_text="Whether a webhook secret is stored (it is never returned; see webhook-secret/)."
    )
    webhook_secret_missing = serializers.SerializerMethodField(
        help_text="The provider signs its webhooks but no secret is set: they cannot be verified."
    )
    capabilities = serializers.SerializerMethodField()
    usage_limit = serializers.DecimalField(
        max_digits=18, decimal_places=4, min_value=Decimal("0"), allow_null=True, required=False
    )
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    sync_interval = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False)
    sync_enabled = StrictBooleanField(required=False)
    send_rate = serializers.FloatField(min_value=0.01, max_value=1000, required=False)

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "provider",
            "name",
            "base_url",
            "credentials",
            "webhook_urls",
            "webhook_secret_set",
            "webhook_secret_missing",
            "capabilities",
            "status",
            "sync_enabled",
            "last_synced_at",
            "last_error",
            "parent",
            "remote_account_id",
            "usage",
            "usage_limit",
            "currency",
            "sync_interval",
            "send_rate",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "last_synced_at",
            "last_error",
            "parent",
            "remote_account_id",
            "usage",
            "created_at",
        ]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "format": "uri"}})
    def get_webhook_urls(self, account: ProviderAccount) -> dict[str, str]:
        return account.webhook_urls

    def get_webhook_secret_set(self, account: ProviderAccount) -> bool:
        return bool(account.webhook_secret_encrypted)

    def get_webhook_secret_missing(self, account: ProviderAccount) -> bool:
        return account.webhook_secret_missing

    def get_capabilities(self, account: ProviderAccount) -> list[str]:
        return sorted(str(c) for c in account.capabilities)

    def validate_currency(self, value: str) -> str:
        return normalize_currency(value)

    def validate_base_url(self, value: str) -> str:
        if self.instance is not None and value == self.instance.base_url:
            return value  # unchanged: an account saved before this check stays editable
        try:
            return services.validate_base_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate(self, attrs):
        provider = attrs.get("provider", getattr(self.instance, "provider", None))
        if self.instance is not None and provider != self.instance.provider:
            raise serializers.ValidationError({"provider": ["The provider of an account cannot change."]})
        credentials = attrs.get("credentials")
        if credentials is None and self.instance is None:
            raise serializers.ValidationError({"credentials": ["This field is required."]})
        if credentials is not None:
            try:
                attrs["credentials"] = registry.adapter_class(provider).validate_credentials(credentials)
            except (ValueError, NotSupported) as exc:
                raise serializers.ValidationError({"credentials": [str(exc)]}) from exc
        return attrs

    def create(self, validated_data):
        credentials = validated_data.pop("credentials")
        account = ProviderAccount(**validated_data)
        account.set_credentials(credentials)
        account.save()
        return account

    def update(self, account, validated_data):
        credentials = validated_data.pop("credentials", None)
        for key, value in validated_data.items():
            setattr(account, key, value)
        if credentials is not None:
            account.set_credentials(credentials)
        account.save()
        return account


class WebhookSecretRequestSerializer(serializers.Serializer):
    secret = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="The secret the provider signs with (copy it where the provider shows one per account, "
        "otherwise choose one). Leave out to have one generated.",
    )
    keep_previous = StrictBooleanField(
        default=True, help_text="Accept the old secret for a while (WEBHOOK_SECRET_GRACE_HOURS) too."
    )


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Shown only in this response; stored encrypted.")
    previous_accepted_until = serializers.DateTimeField(
        allow_null=True, help_text="Until when signatures with the previous secret are still accepted."
    )


class CredentialCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    account = serializers.DictField(
        help_text="The provider's view of the account: remote_id, name, currency."
    )


class SyncRunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "account",
            "status",
            "trigger",
            "resources",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_progress(self, run: SyncRun) -> dict:
        return run.progress


class SubaccountSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=ProviderAccount.objects.none(), help_text="The root provider account."
    )
    name = serializers.CharField(max_length=120)
    usage_limit = serializers.DecimalField(
        max_digits=18, decimal_places=4, min_value=Decimal("0"), allow_null=True, required=False
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "parent",
            "provider",
            "name",
            "remote_account_id",
            "status",
            "usage",
            "usage_limit",
            "currency",
            "sync_enabled",
            "last_synced_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "provider",
            "remote_account_id",
            "status",
            "usage",
            "currency",
            "sync_enabled",
            "last_synced_at",
            "created_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tenant = self.context.get("tenant")
        if "parent" in self.fields and tenant is not None:
            # Only the caller's own root accounts may be parents.
            self.fields["parent"].queryset = ProviderAccount.objects.for_tenant(tenant).filter(
                parent__isnull=True
            )
        if self.instance is not None:  # a subaccount never moves to another parent
            self.fields["parent"].read_only = True


class WebhookEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEvent
        fields = [
            "id",
            "account",
            "provider",
            "kind",
            "event_key",
            "method",
            "query",
            "body",
            "status",
            "received_at",
            "applied_at",
            "attempts",
            "error",
        ]
        read_only_fields = fields


class ProviderLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderLog
        fields = [
            "id",
            "account",
            "method",
            "url",
            "status",
            "duration_ms",
            "request_body",
            "response_body",
            "error",
            "created_at",
        ]
        read_only_fields = fields
