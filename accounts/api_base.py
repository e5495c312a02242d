"""A locked-down DRF base for tenant-owned resources (after PostHog's routing mixin).

Subclasses implement `safely_get_queryset(queryset)` and never see an unscoped queryset:
`get_queryset` and `get_object` are owned here, and overriding them is refused at class
creation. The tenant comes from the API key, or for session calls from the `X-Tenant`
header (a slug the user belongs to; optional when the user has one tenant).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, permissions, viewsets

from core.api_errors import ApiAutoSchema
from core.api_pagination import KeysetPagination

from . import rls
from .api_filters import TenantFilterBackend
from .models import ApiKey, Membership, Scope
from .tenancy import SESSION_TENANT_KEY, TenantAccess, tenant_access_for

TENANT_HEADER = "HTTP_X_TENANT"
# Without the header, a logged-in browser (reading /api/v1/, or "Try it out" in /api/docs/)
# acts in the tenant it last opened in the dashboard (SESSION_TENANT_KEY).


def resolve_api_access(request) -> TenantAccess:
    auth = request.auth
    if isinstance(auth, ApiKey):
        return TenantAccess(auth.tenant, "api-key", frozenset(auth.scopes))
    user = request.user
    if not user or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    slug = request.META.get(TENANT_HEADER)
    session = getattr(request, "session", None)
    remembered = session.get(SESSION_TENANT_KEY) if session is not None else None
    if not slug and remembered:
        try:
            return tenant_access_for(user, remembered)
        except Http404:
            pass  # no longer a member there: decide as if nothing was remembered
    if not slug:
        memberships = list(Membership.objects.filter(user=user).select_related("tenant")[:2])
        if len(memberships) != 1:
            raise exceptions.ValidationError(
                {
                    "X-Tenant": [
                        "Set the X-Tenant header to the slug of the tenant to act in "
                        "(or open that tenant in the dashboard first)."
                    ]
                }
            )
        slug = memberships[0].tenant.slug
    try:
        return tenant_access_for(user, slug)
    except Http404 as exc:
        raise exceptions.NotFound("Unknown tenant.") from exc


class HasScope(permissions.BasePermission):
    """Safe methods need `read`, writes need `manage`, unless the view says otherwise
    through `action_scopes = {"create": "send", ...}`."""

    message = "This API key or role lacks the scope this action needs."

    def has_permission(self, request, view) -> bool:
        # The browsable renderer asks again while rendering an error (e.g. no tenant was
        # resolved): without an access there is nothing to allow.
        access = getattr(view, "tenant_access", None)
        if access is None:
            return False
        needed = view.required_scope(request)
        if not access.can(needed):
            self.message = f"This action needs the '{needed}' scope."
            return False
        return True


class TenantScopedViewSetMixin:
    action_scopes: dict[str, str] = {}
    # Error statuses an action may answer beyond the ones every operation documents.
    extra_error_statuses: dict[str, list[int]] = {}
    permission_classes = [permissions.IsAuthenticated, HasScope]
    pagination_class = KeysetPagination
    filter_backends = [TenantFilterBackend]
    schema = ApiAutoSchema()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("get_queryset", "get_object"):
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} must not override {name}(); implement "
                    "safely_get_queryset() so the tenant filter cannot be lost."
                )

    # -- tenant ----------------------------------------------------------------
    def initial(self, request, *args, **kwargs):
        # Authenticate first, then resolve the tenant before permissions run.
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        if request.user and request.user.is_authenticated:
            self.tenant_access = resolve_api_access(request)
            self.tenant = self.tenant_access.tenant
            request.tenant = self.tenant
            rls.activate_request_tenant(self.tenant)  # row-level security: this tenant's rows only
        self.check_permissions(request)
        self.check_throttles(request)

    def required_scope(self, request) -> str:
        if self.action in self.action_scopes:
            return self.action_scopes[self.action]
        return Scope.READ if request.method in permissions.SAFE_METHODS else Scope.MANAGE

    # -- querysets -------------------------------------------------------------
    def safely_get_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        model = self.queryset.model if self.queryset is not None else self.model
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return model.objects.none()
        return self.safely_get_queryset(model.objects.for_tenant(self.tenant))

    def get_object(self):
        return super().get_object()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["tenant"] = getattr(self, "tenant", None)
        return context

    def perform_create(self, serializer):
        serializer.save(tenant=self.tenant)


class TenantScopedViewSet(TenantScopedViewSetMixin, viewsets.GenericViewSet):
    pass


class TenantScopedModelViewSet(TenantScopedViewSetMixin, viewsets.ModelViewSet):
    pass


class TenantScopedReadOnlyViewSet(TenantScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <api key>` in the schema (loaded with this module)."""

    target_class = "accounts.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A tenant API key (sbk_…)."}


BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The stored bytes, with their content type.")


def stored_file_response(field_file, content_type: str, filename: str) -> FileResponse:
    """Stream a fetched file; 404 while it has not been fetched (or went missing)."""
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, content_type=content_type or "application/octet-stream", filename=filename)
