"""Write paths for tenancy: creating tenants with their owner."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .models import ApiKey, Membership, Role, Tenant, User


@dataclass
class TenantSetup:
    tenant: Tenant
    owner: User
    user_created: bool
    tenant_created: bool
    api_key: ApiKey | None = None
    raw_key: str | None = None


@transaction.atomic
def create_tenant(
    slug: str,
    name: str,
    owner_email: str,
    password: str | None = None,
    *,
    timezone: str = "UTC",
    currency: str = "EUR",
    with_api_key: bool = False,
) -> TenantSetup:
    """Idempotent: an existing tenant or user is reused; a new key is issued each call."""
    tenant, tenant_created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name, "timezone": timezone, "default_currency": currency}
    )
    owner = User.objects.filter(email__iexact=owner_email).first()
    user_created = owner is None
    if owner is None:
        owner = User.objects.create_user(owner_email, password)
    elif password:
        owner.set_password(password)
        owner.save(update_fields=["password"])
    Membership.objects.update_or_create(tenant=tenant, user=owner, defaults={"role": Role.OWNER})
    setup = TenantSetup(tenant, owner, user_created, tenant_created)
    if with_api_key:
        setup.api_key, setup.raw_key = ApiKey.issue(tenant, "create_tenant", created_by=owner)
    return setup
