"""Write paths for tenancy: creating tenants with their owner, and managing members."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import audit
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


# -- members ------------------------------------------------------------------------------------
MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def _may_manage(actor_role: str, membership_role: str | None, new_role: str | None = None) -> None:
    """Owners manage everyone; admins manage admins, members and viewers, never owners."""
    if actor_role not in MANAGER_ROLES:
        raise ValidationError("Only owners and admins manage members.")
    if actor_role != Role.OWNER and Role.OWNER in (membership_role, new_role):
        raise ValidationError("Only an owner can add, change or remove owners.")


def _ensure_another_owner(membership: Membership) -> None:
    """The last owner can be neither removed nor demoted. Owner rows are locked so two owners
    demoting each other at the same moment cannot both succeed."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(tenant_id=membership.tenant_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if owners == [membership.pk]:
        raise ValidationError("A tenant needs at least one owner; make someone else an owner first.")


def send_invitation(membership: Membership, site_url: str, invited_by: User | None = None) -> None:
    """Email the new member; someone without a password gets a "set your password" link
    (Django's password-reset token: single use, expires after PASSWORD_RESET_TIMEOUT)."""
    user = membership.user
    context = {
        "user": user,
        "tenant": membership.tenant,
        "role": membership.get_role_display(),
        "invited_by": invited_by,
        "site_url": site_url.rstrip("/"),
        "set_password_url": "",
    }
    if not user.has_usable_password():
        path = reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
        context["set_password_url"] = context["site_url"] + path
    subject = render_to_string("registration/invitation_subject.txt", context).strip()
    body = render_to_string("registration/invitation_email.txt", context)
    send_mail(subject, body, None, [user.email])


@transaction.atomic
def add_member(
    tenant: Tenant, email: str, role: str, *, actor: User | None, actor_role: str, site_url: str
) -> tuple[Membership, bool]:
    """Add someone by email with a role: a new user gets an unusable password and a link to
    set one. Returns (membership, user_created)."""
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role {role!r}."]})
    _may_manage(actor_role, None, role)
    email = User.objects.normalize_email(email.strip()).lower()
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if user is None:
        user = User.objects.create_user(email, None)  # None: an unusable password
    elif Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({"email": [f"{email} is already a member of {tenant.name}."]})
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    audit.record(tenant, actor, "member.add", membership, email=email, role=role, new_user=created)
    transaction.on_commit(lambda: send_invitation(membership, site_url, actor))
    return membership, created


@transaction.atomic
def change_role(membership: Membership, role: str, *, actor: User | None, actor_role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role {role!r}."]})
    _may_manage(actor_role, membership.role, role)
    if role == membership.role:
        return membership
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        membership.tenant, actor, "member.role", membership, email=membership.user.email, old=old, new=role
    )
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, actor: User | None, actor_role: str) -> None:
    _may_manage(actor_role, membership.role)
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership)
    audit.record(membership.tenant, actor, "member.remove", membership, email=membership.user.email)
    membership.delete()  # the user stays: they may belong to other tenants
