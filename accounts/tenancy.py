"""Resolving `request.tenant` for dashboard URLs `/t/<tenant_slug>/...`.

A tenant the user is not a member of is a 404 (its existence is not revealed); staff
operators may enter any tenant, with owner rights.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone

from . import rls
from .models import ROLE_SCOPES, Membership, Role, Tenant

# The tenant last opened in the dashboard; session API calls default to it (accounts.api_base).
SESSION_TENANT_KEY = "dashboard_tenant"


@dataclass(frozen=True)
class TenantAccess:
    tenant: Tenant
    role: str  # a Role, or "api-key"
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def tenant_access_for(user, tenant_slug: str) -> TenantAccess:
    """The user's access to the tenant with this slug, or Http404."""
    if not user.is_authenticated:
        raise Http404
    if user.is_staff:
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise Http404
        return TenantAccess(tenant, Role.OWNER, ROLE_SCOPES[Role.OWNER])
    membership = (
        Membership.objects.select_related("tenant")
        .filter(user=user, tenant__slug=tenant_slug, tenant__active=True)
        .first()
    )
    if membership is None:
        raise Http404
    return TenantAccess(membership.tenant, membership.role, ROLE_SCOPES[membership.role])


class TenantMiddleware:
    """Sets `request.tenant` and `request.tenant_access` for views routed with `tenant_slug`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request.tenant = None
        request.tenant_access = None
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        slug = view_kwargs.pop("tenant_slug", None)
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        access = tenant_access_for(request.user, slug)
        request.tenant = access.tenant
        request.tenant_access = access
        rls.activate_request_tenant(access.tenant)  # row-level security: this tenant's rows only
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_TENANT_KEY) != access.tenant.slug:
            session[SESSION_TENANT_KEY] = access.tenant.slug  # the API's default for this browser
        # Times on tenant pages are shown in the tenant's zone (stored as aware UTC).
        timezone.activate(zoneinfo.ZoneInfo(access.tenant.timezone))
        return None


def tenants_for(user) -> list[Tenant]:
    """Tenants the user can enter, for the switcher."""
    if not user.is_authenticated:
        return []
    if user.is_staff:
        return list(Tenant.objects.order_by("name"))  # cross-tenant: staff operators see all
    return list(Tenant.objects.filter(memberships__user=user, active=True).order_by("name").distinct())


# -- the only way a dashboard view reads tenant rows ------------------------------------------
def tenant_qs(request: HttpRequest, model: type[Model]) -> QuerySet:
    """The only way a dashboard view reads tenant rows: scoped to request.tenant."""
    return model.objects.for_tenant(request.tenant)


def tenant_object_or_404(request: HttpRequest, model_or_qs: type[Model] | QuerySet, **lookup: Any) -> Any:
    """Another tenant's object is a 404, never a 403: its existence is not revealed."""
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs.objects.all()
    return get_object_or_404(qs.filter(tenant_id=request.tenant.pk), **lookup)
