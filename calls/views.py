"""Dashboard pages of calls: list (keyset pages, filters), detail with legs, actions and
recordings, the tenant-checked audio stream, and placing a call."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.models import Scope
from accounts.tenancy import tenant_object_or_404, tenant_qs
from core.csv_export import csv_response
from core.web import any_labels, is_htmx, keyset_page, query_without
from outbound.web import SEND_ERRORS, add_send_errors
from providers.adapters.records import Capability
from providers.models import ProviderAccount

from . import services
from .filters import CallFilter
from .models import Call, CallState, Recording

E164 = re.compile(r"\+[1-9]\d{6,14}")


def filtered_calls(request):
    data = request.GET.copy()
    zone = zoneinfo.ZoneInfo(request.tenant.timezone)
    for key, target, shift in (("since", "created_after", 0), ("until", "created_before", 1)):
        try:
            day = datetime.fromisoformat(data.get(key, "")).date()
        except ValueError:
            continue
        data[target] = datetime.combine(day + timedelta(days=shift), time.min, zone).isoformat()
    qs = tenant_qs(request, Call).select_related("provider_account", "number")
    filterset = CallFilter(data, queryset=qs, request=request)
    any_labels(filterset.form)
    if not filterset.is_valid():
        return filterset, qs.none()
    return filterset, filterset.qs


def call_list(request):
    filterset, qs = filtered_calls(request)
    page = keyset_page(qs, request.GET.get("before"))
    context = {
        "filterset": filterset,
        "page": page,
        "query": query_without(request, "before"),
        "can_call": request.tenant_access.can(Scope.SEND),
        "live": not request.GET.get("before") and filterset.is_valid(),
        "poll_seconds": 10,
    }
    template = "calls/_call_rows.html" if is_htmx(request) else "calls/call_list.html"
    return render(request, template, context)


def call_export(request):
    _, qs = filtered_calls(request)
    fields = [
        "id", "created_at", "direction", "state", "from_number", "to_number", "answered_at", "ended_at",
        "duration", "cost", "currency", "provider_account__name", "remote_id",
    ]  # fmt: skip
    rows = (
        [v.isoformat() if isinstance(v, datetime) else v for v in row]
        for row in qs.order_by("-created_at", "-id").values_list(*fields).iterator(chunk_size=2000)
    )
    header = [f.replace("provider_account__name", "provider_account") for f in fields]
    return csv_response(f"calls-{request.tenant.slug}.csv", header, rows)


FINAL_STATES = {
    CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.CANCELED,
}  # fmt: skip
LIVE_WINDOW = timedelta(hours=2)  # a call still open after this is left to the next sync


def call_is_live(call: Call) -> bool:
    return call.state not in FINAL_STATES and call.created_at > timezone.now() - LIVE_WINDOW


def call_events(call: Call) -> list[tuple[str, datetime]]:
    """The call's moments in order: created, answered, ended (what the provider told us)."""
    events = [("Created", call.created_at), ("Answered", call.answered_at), ("Ended", call.ended_at)]
    return sorted(((label, at) for label, at in events if at), key=lambda e: e[1])


def call_detail(request, pk: int):
    call = tenant_object_or_404(
        request, Call.objects.select_related("provider_account", "subaccount", "number"), pk=pk
    )
    context = {
        "call": call,
        "events": call_events(call),
        "legs": call.legs.filter(tenant_id=request.tenant.pk),
        "recordings": tenant_qs(request, Recording).filter(call=call),
        "live": call_is_live(call),
    }
    if is_htmx(request):
        return render(request, "calls/_call_live.html", context)
    return render(request, "calls/call_detail.html", context)


def recordings(request):
    qs = tenant_qs(request, Recording).select_related("call")
    if (status := request.GET.get("fetch_status", "")) in Recording.FetchStatus.values:
        qs = qs.filter(fetch_status=status)
    page = keyset_page(qs, request.GET.get("before"))
    return render(
        request,
        "calls/recordings.html",
        {"page": page, "query": query_without(request, "before"), "fetch_status": status},
    )


def recording_audio(request, pk: int):
    """Streams a fetched recording; 404 for another tenant's and for one not fetched yet."""
    recording = tenant_object_or_404(request, Recording, pk=pk)
    if recording.fetch_status != Recording.FetchStatus.FETCHED or not recording.file:
        raise Http404
    try:
        handle = recording.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    content_type = recording.content_type if recording.content_type.startswith("audio/") else "audio/wav"
    return FileResponse(handle, content_type=content_type, filename=recording.file.name.rsplit("/", 1)[-1])


class PlaceCallForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, label="Call through")
    from_number = forms.CharField(max_length=32, label="From (caller id)")
    to_number = forms.CharField(max_length=32, label="To")
    connect_to = forms.CharField(
        max_length=32,
        required=False,
        label="When answered, connect to",
        help_text="E.164; e.g. your desk phone.",
    )
    play_url = forms.URLField(required=False, label="…or play this audio URL")
    # A fresh key per rendered form: a double click never places two calls.
    key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(a.pk, str(a)) for a in accounts]

    def clean(self):
        data = super().clean()
        for name in ("from_number", "to_number", "connect_to"):
            if data.get(name) and not E164.fullmatch(data[name]):
                self.add_error(name, "Enter an E.164 number, e.g. +46701234567.")
        if not data.get("connect_to") and not data.get("play_url"):
            raise forms.ValidationError("Say what happens when the call is answered: connect or play.")
        return data


def place_call(request):
    accounts = [
        a
        for a in tenant_qs(request, ProviderAccount).filter(status=ProviderAccount.Status.ACTIVE)
        if a.can(Capability.PLACE_CALL)
    ]
    form = PlaceCallForm(request.POST or None, initial={"key": uuid.uuid4().hex}, accounts=accounts)
    status = 200
    if request.method == "POST":
        if not request.tenant_access.can(Scope.SEND):
            raise PermissionDenied("Your role does not allow placing calls.")
        if form.is_valid():
            data = form.cleaned_data
            account = next(a for a in accounts if a.pk == data["account"])
            action = {"connect": data["connect_to"]} if data["connect_to"] else {"play": data["play_url"]}
            try:
                call = services.place_call(
                    request.tenant, account=account, from_number=data["from_number"], to=data["to_number"],
                    action=action, idempotency_key=f"dash:{data['key']}" if data["key"] else None,
                    created_by=request.user,
                )  # fmt: skip
            except SEND_ERRORS as exc:
                add_send_errors(form, exc)
            else:
                messages.success(request, "Call queued.")
                return redirect("call", tenant_slug=request.tenant.slug, pk=call.pk)
        status = 400
    return render(
        request,
        "calls/place_call.html",
        {
            "form": form,
            "has_accounts": bool(accounts),
            "can_call": request.tenant_access.can(Scope.SEND),
        },
        status=status,
    )
