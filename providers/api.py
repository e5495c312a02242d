"""REST resources of the providers app: accounts (with credential checks and syncs),
subaccounts, sync runs, received webhooks and the provider HTTP log."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import audit
from accounts.api_base import TenantScopedReadOnlyViewSet, TenantScopedViewSet
from accounts.models import Scope
from core.api_errors import Conflict, ErrorSerializer, Unprocessable

from . import services
from .adapters import NotSupported, ProviderError, RateLimited
from .connect import open_adapter
from .filters import (
    ProviderAccountFilter,
    ProviderLogFilter,
    SubaccountFilter,
    SyncRunFilter,
    WebhookEventFilter,
)
from .models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent
from .scheduling import start_sync
from .serializers import (
    CredentialCheckSerializer,
    ProviderAccountSerializer,
    ProviderLogSerializer,
    SubaccountSerializer,
    SyncRunSerializer,
    WebhookEventSerializer,
    WebhookSecretRequestSerializer,
    WebhookSecretSerializer,
)

DeletionSerializer = inline_serializer(
    "ProviderAccountDeletion",
    {
        "id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=[ProviderAccount.Status.DELETING]),
        "detail": serializers.CharField(),
    },
)
ERROR_422 = OpenApiResponse(ErrorSerializer, description="The provider refused or cannot do this.")


@contextmanager
def provider_errors():
    """Turn adapter errors into API errors carrying the provider's safe message: 429 (with
    Retry-After) when the provider throttles us, 422 otherwise; a service's ValidationError is a 400."""
    try:
        yield
    except DjangoValidationError as exc:  # a service's validation: 400 by field
        raise exceptions.ValidationError(getattr(exc, "message_dict", None) or exc.messages) from exc
    except RateLimited as exc:
        raise exceptions.Throttled(wait=exc.retry_after, detail=exc.message) from exc
    except ProviderError as exc:
        code = "not_supported" if isinstance(exc, NotSupported) else f"provider_{type(exc).__name__.lower()}"
        raise Unprocessable(exc.message, code=code) from exc


@extend_schema_view(
    list=extend_schema(summary="List provider accounts (roots and subaccounts)"),
    create=extend_schema(summary="Connect a provider account"),
)
class ProviderAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    queryset = ProviderAccount.objects.all()
    serializer_class = ProviderAccountSerializer
    filterset_class = ProviderAccountFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_scopes = {
        "test": Scope.MANAGE,
        "sync": Scope.MANAGE,
        "webhook_secret": Scope.MANAGE,
        "clear_webhook_secret": Scope.MANAGE,
    }
    extra_error_statuses = {"test": [422], "sync": [409], "partial_update": [409]}

    def perform_create(self, serializer):
        account = serializer.save(tenant=self.tenant)
        audit.record(self.tenant, self.request, "provider_account.create", account, provider=account.provider)

    def perform_update(self, serializer):
        if serializer.instance.status == ProviderAccount.Status.DELETING:
            raise Conflict("This account is being deleted.")
        changed = sorted(serializer.validated_data)  # names only: credentials never reach the log
        account = serializer.save()
        audit.record(self.tenant, self.request, "provider_account.update", account, fields=changed)

    @extend_schema(
        summary="Disconnect a provider account and delete its synced rows",
        description="Marks the account (and its subaccounts) `deleting` at once: no more syncs or "
        "sends. Its messages, calls, recordings and files are removed by a background job; the "
        "account is listed with status `deleting` until then. Asking again is harmless.",
        request=None,
        responses={202: DeletionSerializer},
    )
    def destroy(self, request, pk=None):
        account = services.delete_account(self.get_object(), actor=request)
        return Response(
            {"id": account.pk, "status": account.status, "detail": "Deleting in the background."},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={200: CredentialCheckSerializer, 422: ERROR_422})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Check the stored credentials against the provider."""
        account = self.get_object()
        with provider_errors(), open_adapter(account) as adapter:
            info = adapter.check_credentials()
        return Response(
            {
                "ok": True,
                "account": {"remote_id": info.remote_id, "name": info.name, "currency": info.currency},
            }
        )

    @extend_schema(request=None, responses={202: SyncRunSerializer, 409: OpenApiResponse(ErrorSerializer)})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Queue a history sync now; answers the queued run (an already queued run is reused)."""
        account = self.get_object()
        if account.status == ProviderAccount.Status.DISABLED:
            raise Conflict("This account is disabled; enable it before syncing.")
        if account.status == ProviderAccount.Status.DELETING:
            raise Conflict("This account is being deleted.")
        run = start_sync(account, SyncRun.Trigger.API)
        audit.record(self.tenant, request, "sync.start", run, account=account.pk)
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Set or rotate the webhook secret",
        description="Stores the secret the provider signs webhooks with (or generates one when "
        "`secret` is left out) and answers it once; it is never returned again. The previous "
        "secret stays accepted for a grace period unless `keep_previous` is false.",
        request=WebhookSecretRequestSerializer,
        responses={200: WebhookSecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="webhook-secret")
    def webhook_secret(self, request, pk=None):
        account = self.get_object()
        serializer = WebhookSecretRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with provider_errors():
            secret = services.set_webhook_secret(
                account, data.get("secret") or None, keep_previous=data["keep_previous"], actor=request
            )
        return Response(
            WebhookSecretSerializer(
                {"secret": secret, "previous_accepted_until": account.webhook_secret_previous_until}
            ).data,
            headers={"Cache-Control": "no-store"},
        )

    @extend_schema(
        summary="Remove the webhook secret (only the URL token is checked then)", responses={204: None}
    )
    @webhook_secret.mapping.delete
    def clear_webhook_secret(self, request, pk=None):
        with provider_errors():
            services.clear_webhook_secret(self.get_object(), actor=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncRunViewSet(TenantScopedReadOnlyViewSet):
    queryset = SyncRun.objects.all()
    serializer_class = SyncRunSerializer
    filterset_class = SyncRunFilter


class SubaccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantScopedViewSet
):
    """Subaccounts are provider accounts with a parent; creating or changing one goes
    through the provider (where the adapter supports it) and then the subaccount importer."""

    queryset = ProviderAccount.objects.all()
    serializer_class = SubaccountSerializer
    filterset_class = SubaccountFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    extra_error_statuses = {"create": [422], "partial_update": [422]}

    def safely_get_queryset(self, queryset):
        return queryset.filter(parent__isnull=False).select_related("parent")

    @extend_schema(responses={201: SubaccountSerializer, 422: ERROR_422})
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with provider_errors():
            child = services.create_subaccount(
                data["parent"], data["name"], data.get("usage_limit"), actor=request
            )
        return Response(self.get_serializer(child).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SubaccountSerializer, responses={200: SubaccountSerializer, 422: ERROR_422})
    def partial_update(self, request, pk=None):
        child = self.get_object()
        serializer = self.get_serializer(child, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k in ("name", "usage_limit")}
        with provider_errors():
            child = services.update_subaccount(child, **changes, actor=request)
        return Response(self.get_serializer(child).data)


class WebhookEventViewSet(TenantScopedReadOnlyViewSet):
    """Webhooks received from the providers, as stored before they were applied."""

    queryset = WebhookEvent.objects.all()
    serializer_class = WebhookEventSerializer
    filterset_class = WebhookEventFilter
    cursor_ordering = ("-received_at", "-id")


class ProviderLogViewSet(TenantScopedReadOnlyViewSet):
    """Every HTTP exchange with a provider (redacted), for debugging."""

    queryset = ProviderLog.objects.all()
    serializer_class = ProviderLogSerializer
    filterset_class = ProviderLogFilter
