from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from . import audit
from .api_base import TenantScopedReadOnlyViewSet, TenantScopedViewSet
from .api_filters import AuditLogFilter
from .models import ApiKey, AuditLog, Scope
from .serializers import ApiKeySerializer, AuditLogSerializer, IssuedApiKeySerializer, TenantSerializer


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """API keys of the tenant. Managing keys needs the `manage` scope."""

    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    action_scopes = {"list": Scope.MANAGE, "retrieve": Scope.MANAGE}
    # A tenant holds a handful of keys; the list stays a bare array, as first shipped.
    pagination_class = None

    def safely_get_queryset(self, queryset):
        return queryset.select_related("created_by")

    @extend_schema(request=ApiKeySerializer, responses={201: IssuedApiKeySerializer})
    def create(self, request):
        serializer = ApiKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created_by = request.user if getattr(request.user, "pk", None) else None
        key, raw = ApiKey.issue(
            self.tenant, serializer.validated_data["name"], serializer.validated_data["scopes"], created_by
        )
        audit.record(self.tenant, request, "api_key.issue", key, scopes=key.scopes)
        key.key = raw
        return Response(IssuedApiKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = self.get_object()
        if key.revoked_at is None:
            key.revoke()
            audit.record(self.tenant, request, "api_key.revoke", key)
        return Response(ApiKeySerializer(key).data)


class TenantViewSet(TenantScopedViewSet):
    """The tenant the caller acts in."""

    serializer_class = TenantSerializer

    @extend_schema(responses=TenantSerializer)
    @action(detail=False, methods=["get"], url_path="current")
    def current(self, request):
        return Response(TenantSerializer(self.tenant).data)


class AuditLogViewSet(TenantScopedReadOnlyViewSet):
    """The tenant's audit trail, newest first."""

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilter

    def safely_get_queryset(self, queryset):
        return queryset.select_related("actor", "api_key")
