"""Dashboard pages of phone numbers: the list, our name/purpose note, and — where the
provider supports it (Capability) — webhook routing, allocating and releasing numbers."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.models import Scope
from accounts.permissions import scope_required
from accounts.tenancy import tenant_object_or_404, tenant_qs
from providers.adapters import ProviderError
from providers.adapters.records import Capability, NumberConfig
from providers.models import ProviderAccount

from . import services
from .models import PURPOSE_MAX_CHARS, PhoneNumber


def number_list(request):
    numbers = tenant_qs(request, PhoneNumber).select_related("provider_account", "subaccount")
    account = request.GET.get("account", "")
    if account.isdigit():
        numbers = numbers.filter(provider_account_id=account)
    if q := request.GET.get("q", "").strip():
        numbers = numbers.filter(
            Q(number__contains=q.replace(" ", "")) | Q(name__icontains=q) | Q(purpose__icontains=q)
        )
    if not request.GET.get("inactive"):
        numbers = numbers.filter(active=True)
    accounts = tenant_qs(request, ProviderAccount).filter(parent__isnull=True).order_by("name")
    allocatable = [a for a in accounts if a.can(Capability.ALLOCATE_NUMBER)]
    return render(
        request,
        "numbers/number_list.html",
        {
            "numbers": numbers[:500],
            "accounts": accounts,
            "account": account,
            "q": q,
            "allocatable": allocatable,
        },
    )


class NoteForm(forms.ModelForm):
    purpose = forms.CharField(
        required=False, max_length=PURPOSE_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 3})
    )

    class Meta:
        model = PhoneNumber
        fields = ["name", "purpose"]
        widgets = {"purpose": forms.Textarea(attrs={"rows": 3})}


class RoutingForm(forms.Form):
    sms_url = forms.URLField(required=False, max_length=500, label="SMS webhook URL")
    mms_url = forms.URLField(required=False, max_length=500, label="MMS webhook URL")
    voice_url = forms.URLField(required=False, max_length=500, label="Voice webhook URL")


def _problem(exc: ValidationError | ProviderError) -> str:
    """One line for a message banner: the provider's refusal or our validation."""
    if isinstance(exc, ProviderError):
        return exc.message
    return " ".join(exc.messages)


def _switchboard_routing(number: PhoneNumber) -> NumberConfig | None:
    try:
        return services.switchboard_routing(number)
    except ProviderError:
        return None


def number_detail(request, pk: int):
    number = tenant_object_or_404(request, PhoneNumber.objects.select_related("provider_account"), pk=pk)
    account = number.provider_account
    can_manage = request.tenant_access.can(Scope.MANAGE)
    can_route = account.can(Capability.CONFIGURE_NUMBER)
    note_form = NoteForm(instance=number)
    routing_form = RoutingForm(initial={k: getattr(number, k) for k in ("sms_url", "mms_url", "voice_url")})
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Your role does not allow changing numbers.")
        if "route" in request.POST:
            try:
                services.route_to_switchboard(number, actor=request.user)
            except (ValidationError, ProviderError) as exc:
                messages.error(request, _problem(exc))
            else:
                messages.success(request, "The number's webhooks now point at Switchboard.")
            return redirect("number", tenant_slug=request.tenant.slug, pk=number.pk)
        if "routing" in request.POST:
            routing_form = RoutingForm(request.POST)
            if not number.active:
                routing_form.add_error(None, "This number has been released; there is nothing to configure.")
            elif not can_route:
                routing_form.add_error(
                    None, f"{account.adapter_class.name} numbers cannot be configured here."
                )
            if routing_form.is_valid():
                try:
                    services.configure_number(
                        number, NumberConfig(**routing_form.cleaned_data), actor=request.user
                    )
                except (ValidationError, ProviderError) as exc:
                    routing_form.add_error(None, _problem(exc))
                else:
                    messages.success(request, "Routing updated at the provider.")
                    return redirect("number", tenant_slug=request.tenant.slug, pk=number.pk)
        else:
            note_form = NoteForm(request.POST, instance=number)
            if note_form.is_valid():
                note_form.save()
                audit.record(
                    request.tenant, request.user, "number.update", number, fields=note_form.changed_data
                )
                messages.success(request, "Saved.")
                return redirect("number", tenant_slug=request.tenant.slug, pk=number.pk)
        status = 400
    return render(
        request,
        "numbers/number_detail.html",
        {
            "number": number,
            "note_form": note_form,
            "routing_form": routing_form,
            "can_manage": can_manage,
            "can_route": can_route,
            "can_release": account.can(Capability.RELEASE_NUMBER) and number.active,
            "switchboard_routing": _switchboard_routing(number) if can_route and number.active else None,
        },
        status=status,
    )


@require_POST
@scope_required(Scope.MANAGE)
def number_release(request, pk: int):
    number = tenant_object_or_404(request, PhoneNumber.objects.select_related("provider_account"), pk=pk)
    try:
        services.release_number(number, actor=request.user)
    except (ValidationError, ProviderError) as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, f"Released {number.number}.")
    return redirect("number", tenant_slug=request.tenant.slug, pk=number.pk)


class AllocateForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int)
    country = forms.RegexField(regex=r"^[A-Za-z]{2}$", max_length=2, help_text="ISO code, e.g. SE.")
    capabilities = forms.MultipleChoiceField(
        choices=[("sms", "SMS"), ("mms", "MMS"), ("voice", "Voice")],
        widget=forms.CheckboxSelectMultiple,
        initial=["sms"],
    )


@scope_required(Scope.MANAGE)
def number_allocate(request):
    accounts = [
        a
        for a in tenant_qs(request, ProviderAccount).filter(parent__isnull=True)
        if a.can(Capability.ALLOCATE_NUMBER)
    ]
    form = AllocateForm(request.POST or None)
    form.fields["account"].choices = [(a.pk, str(a)) for a in accounts]
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            account = next(a for a in accounts if a.pk == data["account"])
            try:
                number = services.allocate_number(
                    request.tenant, account, data["country"], data["capabilities"], created_by=request.user
                )
            except (ValidationError, ProviderError) as exc:
                form.add_error(None, _problem(exc))
            else:
                messages.success(request, f"Allocated {number.number}.")
                return redirect("number", tenant_slug=request.tenant.slug, pk=number.pk)
        status = 400
    return render(
        request, "numbers/allocate.html", {"form": form, "has_accounts": bool(accounts)}, status=status
    )
