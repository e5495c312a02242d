"""Dashboard views of the accounts app: tenant switcher, API keys, members, audit log and
password reset."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.web import keyset_page, query_without

from . import audit, services
from .models import ApiKey, AuditLog, Membership, Role, Scope, User
from .permissions import scope_required
from .tenancy import tenant_object_or_404, tenant_qs, tenants_for


# -- tenant switcher ----------------------------------------------------------------------------
@login_required
def home(request):
    """The tenant switcher: straight into the only tenant, a chooser for several."""
    tenants = tenants_for(request.user)
    wanted = request.GET.get("t", "")
    if wanted.startswith("/t/") and url_has_allowed_host_and_scheme(wanted, allowed_hosts=None):
        return redirect(wanted)  # the switcher without JavaScript
    if len(tenants) == 1:
        return redirect("tenant-home", tenant_slug=tenants[0].slug)
    return render(request, "accounts/choose_tenant.html", {"tenants": tenants})


# -- settings: API keys and members -------------------------------------------------------------
class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “CRM sync”.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Scope.READ],
        help_text="read lists data; send sends messages and places calls; manage changes settings.",
    )


def api_keys(request):
    keys = tenant_qs(request, ApiKey).select_related("created_by")
    form = ApiKeyForm()
    return render(request, "accounts/api_keys.html", {"keys": keys, "form": form, "secret": None})


@require_POST
@scope_required(Scope.MANAGE)
def api_key_create(request):
    form = ApiKeyForm(request.POST)
    secret = None
    if form.is_valid():
        key, secret = ApiKey.issue(
            request.tenant, form.cleaned_data["name"], form.cleaned_data["scopes"], created_by=request.user
        )
        audit.record(request.tenant, request.user, "api_key.create", key, scopes=key.scopes)
        form = ApiKeyForm()
    keys = tenant_qs(request, ApiKey).select_related("created_by")
    # The secret is rendered once in this response and never stored in clear.
    status = 200 if secret or not form.errors else 400
    return render(
        request, "accounts/api_keys.html", {"keys": keys, "form": form, "secret": secret}, status=status
    )


@require_POST
@scope_required(Scope.MANAGE)
def api_key_revoke(request, pk: int):
    key = tenant_object_or_404(request, ApiKey, pk=pk)
    key.revoke()
    audit.record(request.tenant, request.user, "api_key.revoke", key)
    messages.success(request, f"Revoked {key.name}.")
    return redirect("api-keys", tenant_slug=request.tenant.slug)


class AddMemberForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


def _service_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _members_page(request, form: AddMemberForm | None = None, status: int = 200):
    rows = Membership.objects.filter(tenant=request.tenant).select_related("user").order_by("user__email")
    role = request.tenant_access.role
    return render(
        request,
        "accounts/members.html",
        {
            "memberships": rows,
            "form": form or AddMemberForm(),
            "roles": Role.choices,
            # Which rows this user may change: owners all, admins all but owners.
            "manageable_roles": [r for r in Role.values if role == Role.OWNER or r != Role.OWNER]
            if request.tenant_access.can(Scope.MANAGE)
            else [],
        },
        status=status,
    )


def members(request):
    return _members_page(request)


@require_POST
@scope_required(Scope.MANAGE)
def member_add(request):
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            membership, created = services.add_member(
                request.tenant,
                form.cleaned_data["email"],
                form.cleaned_data["role"],
                actor=request.user,
                actor_role=request.tenant_access.role,
                site_url=request.build_absolute_uri("/"),
            )
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            how = "We emailed them a link to set a password." if created else "We let them know by email."
            messages.success(
                request, f"Added {membership.user.email} as {membership.get_role_display()}. {how}"
            )
            return redirect("members", tenant_slug=request.tenant.slug)
    return _members_page(request, form, status=400)


@require_POST
@scope_required(Scope.MANAGE)
def member_role(request, pk: int):
    membership = tenant_object_or_404(request, Membership.objects.select_related("user", "tenant"), pk=pk)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Choose one of the roles.")
        services.change_role(
            membership, form.cleaned_data["role"], actor=request.user, actor_role=request.tenant_access.role
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _members_page(request, status=400)
    messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
    return redirect("members", tenant_slug=request.tenant.slug)


@require_POST
@scope_required(Scope.MANAGE)
def member_remove(request, pk: int):
    membership = tenant_object_or_404(request, Membership.objects.select_related("user", "tenant"), pk=pk)
    try:
        services.remove_member(membership, actor=request.user, actor_role=request.tenant_access.role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _members_page(request, status=400)
    messages.success(request, f"Removed {membership.user.email} from {request.tenant.name}.")
    if membership.user_id == request.user.pk and not request.user.is_staff:
        return redirect("home")  # they left this tenant
    return redirect("members", tenant_slug=request.tenant.slug)


# -- audit log (owners and admins) -----------------------------------------------------------------
@scope_required(Scope.MANAGE)
def audit_log(request):
    """Who did what in this tenant, newest first; filter by action and by actor."""
    rows = tenant_qs(request, AuditLog).select_related("actor", "api_key")
    action = request.GET.get("action", "").strip()
    if action:
        rows = rows.filter(action__startswith=action)
    actor = request.GET.get("actor", "").strip()
    if actor:
        rows = rows.filter(Q(actor__email__icontains=actor) | Q(api_key__name__icontains=actor))
    page = keyset_page(rows, request.GET.get("before"))
    actions = (
        tenant_qs(request, AuditLog).order_by("action").values_list("action", flat=True).distinct()[:200]
    )
    return render(
        request,
        "accounts/audit_log.html",
        {
            "page": page,
            "action": action,
            "actor": actor,
            "actions": list(actions),
            "query": query_without(request, "before"),
        },
    )


class InvitationAwarePasswordResetForm(PasswordResetForm):
    """Django skips users without a usable password; here that is someone invited who has
    not set one yet, and "Forgot password?" should work for them too."""

    def get_users(self, email):
        users = User.objects.filter(email__iexact=email, is_active=True)
        return (u for u in users if _email_matches(u.email, email))


def _email_matches(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()
