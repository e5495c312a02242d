"""Dashboard pages of messaging: the message list (keyset pages, filters, CSV export), a
message's detail and media, conversations, compose and bulk send."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Scope
from accounts.permissions import scope_required
from accounts.tenancy import tenant_object_or_404, tenant_qs
from core.csv_export import csv_response
from core.phone_input import phone_text_problem
from core.web import any_labels, is_htmx, keyset_page, query_without
from numbers.models import PhoneNumber
from outbound import checks as outbound_checks
from outbound.web import SEND_ERRORS, add_send_errors
from providers.adapters import ProviderError
from providers.adapters.records import Capability
from providers.models import ProviderAccount, ProviderLog, WebhookEvent

from . import estimates, services
from .api import COUNTERPART, OUR_NUMBER
from .bulk import bulk_send as queue_bulk
from .bulk import read_recipients
from .csv_upload import BadCsv, recipients_csv_text
from .encoding import sms_parts
from .filters import MessageFilter
from .models import BulkSend, Message, MessageMedia, Status

TEXT_SEARCH_DEFAULT_DAYS = 30  # a body search without a date range is bounded to this
CONVERSATION_DAYS = 30
THREAD_LIMIT = 200
COMPOSE_MAX_RECIPIENTS = 100
BULK_MAX_BYTES = 5 * 1024 * 1024
INLINE_MEDIA = {"image/png", "image/jpeg", "image/gif", "image/webp"}
NUMBER_SPLIT = re.compile(r"[\s,;]+")




def _local_bounds(request, day_from: str, day_to: str) -> tuple[datetime | None, datetime | None]:
    """A date range in the tenant's time zone as [start, end) instants."""
    zone = zoneinfo.ZoneInfo(request.tenant.timezone)

    def parse(value: str):
        try:
            return datetime.fromisoformat(value).date() if value else None
        except ValueError:
            return None

    start, end = parse(day_from), parse(day_to)
    return (
        datetime.combine(start, time.min, zone) if start else None,
        datetime.combine(end + timedelta(days=1), time.min, zone) if end else None,
    )


def filtered_messages(request) -> tuple[MessageFilter, object]:
    data = request.GET.copy()
    start, end = _local_bounds(request, data.get("since", ""), data.get("until", ""))
    q = data.get("q", "").strip()
    bounded = False
    if q and not q.lstrip("+").replace(" ", "").isdigit() and start is None:
        # A body search is a scan; keep it to recent history unless a range is given
        # (and say so on the page: `filterset.search_window_days`).
        start = timezone.now() - timedelta(days=TEXT_SEARCH_DEFAULT_DAYS)
        bounded = True
    if start:
        data["created_after"] = start.isoformat()
    if end:
        data["created_before"] = end.isoformat()
    qs = tenant_qs(request, Message).select_related("provider_account", "number")
    filterset = MessageFilter(data, queryset=qs, request=request)
    filterset.search_window_days = TEXT_SEARCH_DEFAULT_DAYS if bounded else None
    any_labels(filterset.form)
    if not filterset.is_valid():
        return filterset, qs.none()
    return filterset, filterset.qs


def message_list(request):
    filterset, qs = filtered_messages(request)
    page = keyset_page(qs, request.GET.get("before"))
    context = {
        "filterset": filterset,
        "page": page,
        "query": query_without(request, "before"),
        "export_query": query_without(request, "before"),
        "can_send": request.tenant_access.can(Scope.SEND),
        # The first page follows new and changing messages; older pages hold still.
        "live": not request.GET.get("before") and filterset.is_valid(),
        "poll_seconds": LIST_POLL_SECONDS,
    }
    template = "messaging/_message_rows.html" if is_htmx(request) else "messaging/message_list.html"
    return render(request, template, context)


def message_export(request):
    _, qs = filtered_messages(request)
    fields = [
        "id", "created_at", "direction", "kind", "status", "from_number", "to_number", "body", "parts",
        "encoding", "cost", "currency", "provider_account__name", "remote_id", "error",
    ]  # fmt: skip
    rows = (
        [v.isoformat() if isinstance(v, datetime) else v for v in row]
        for row in qs.order_by("-created_at", "-id").values_list(*fields).iterator(chunk_size=2000)
    )
    header = [f.replace("provider_account__name", "provider_account") for f in fields]
    return csv_response(f"messages-{request.tenant.slug}.csv", header, rows)


# Statuses after which a message never changes; pages stop polling there. A message still
# short of them after LIVE_WINDOW is left for the next sync (no endless polling).
FINAL_STATUSES = {Status.DELIVERED, Status.FAILED, Status.RECEIVED}
LIVE_WINDOW = timedelta(hours=2)
LIST_POLL_SECONDS = 10


def message_is_live(message: Message) -> bool:
    return message.status not in FINAL_STATUSES and message.created_at > timezone.now() - LIVE_WINDOW


def message_detail(request, pk: int):
    message = tenant_object_or_404(
        request, Message.objects.select_related("provider_account", "subaccount", "number"), pk=pk
    )
    timeline = [
        (label, moment)
        for label, moment in (
            ("Created", message.created_at),
            ("Sent", message.sent_at),
            ("Delivered", message.delivered_at),
        )
        if moment
    ]
    context = {
        "message": message,
        "timeline": timeline,
        "media": message.media.filter(tenant_id=request.tenant.pk),
        "live": message_is_live(message),
    }
    if is_htmx(request):
        return render(request, "messaging/_message_live.html", context)
    context.update(_traces(request, message))
    return render(request, "messaging/message_detail.html", context)


TRACE_WINDOW = (timedelta(hours=1), timedelta(days=7))  # around the message's creation
TRACE_LIMIT = 10


def _traces(request, message: Message) -> dict:
    """The webhook events and provider HTTP exchanges that mention this message's remote
    id: a bounded scan of its account's rows around the time it was created."""
    if not message.remote_id or len(message.remote_id) < 6:
        return {"webhook_events": [], "provider_logs": []}
    since, until = message.created_at - TRACE_WINDOW[0], message.created_at + TRACE_WINDOW[1]
    events = (
        tenant_qs(request, WebhookEvent)
        .filter(account_id=message.provider_account_id, received_at__gte=since, received_at__lt=until)
        .filter(body__contains=message.remote_id)
        .only("pk", "kind", "status", "received_at")
        .order_by("received_at")[:TRACE_LIMIT]
    )
    logs = (
        tenant_qs(request, ProviderLog)
        .filter(account_id=message.provider_account_id, created_at__gte=since, created_at__lt=until)
        .filter(Q(response_body__contains=message.remote_id) | Q(url__contains=message.remote_id))
        .only("pk", "method", "url", "status", "created_at")
        .order_by("created_at")[:TRACE_LIMIT]
    )
    return {"webhook_events": list(events), "provider_logs": list(logs)}


def media_content(request, pk: int):
    media = tenant_object_or_404(request, MessageMedia, pk=pk)
    if media.fetch_status != MessageMedia.FetchStatus.FETCHED or not media.file:
        raise Http404
    try:
        handle = media.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    # Only plain images are shown inline; anything else downloads (no HTML/SVG from our origin).
    inline = media.content_type in INLINE_MEDIA
    return FileResponse(
        handle,
        content_type=media.content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        filename=media.remote_id,
    )


# -- conversations ------------------------------------------------------------------------------
def conversations(request):
    days = request.GET.get("days", "")
    days_n = int(days) if days.isdigit() and 0 < int(days) <= 366 else CONVERSATION_DAYS
    since = timezone.now() - timedelta(days=days_n)
    threads = list(
        tenant_qs(request, Message)
        .filter(created_at__gte=since)
        .annotate(our_number=OUR_NUMBER, counterpart=COUNTERPART)
        .values("our_number", "counterpart")
        .annotate(last_activity_at=Max("created_at"), message_count=Count("id"))
        .order_by("-last_activity_at")[:100]
    )
    if threads:
        pairs = Q()
        for t in threads:
            pairs |= Q(our_number=t["our_number"], counterpart=t["counterpart"])
        last = (
            tenant_qs(request, Message)
            .filter(created_at__gte=since)
            .annotate(our_number=OUR_NUMBER, counterpart=COUNTERPART)
            .filter(pairs)
            .order_by("our_number", "counterpart", "-created_at", "-id")
            .distinct("our_number", "counterpart")
        )
        by_pair = {(m.our_number, m.counterpart): m for m in last}
        for t in threads:
            t["last"] = by_pair.get((t["our_number"], t["counterpart"]))
    return render(request, "messaging/conversations.html", {"threads": threads, "days": days_n})


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply", max_length=1600, widget=forms.Textarea(attrs={"rows": 3, "data-sms-counter": ""})
    )
    key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


def _thread_rows(request, ours: str, them: str) -> list[Message]:
    rows = list(
        tenant_qs(request, Message)
        .filter(Q(from_number=ours, to_number=them) | Q(from_number=them, to_number=ours))
        .select_related("provider_account")
        .prefetch_related("media")
        .order_by("-created_at", "-id")[:THREAD_LIMIT]
    )
    rows.reverse()
    return rows


def thread(request):
    """A conversation between one of our numbers and someone else; it follows new and
    changing messages by itself, and replies are sent from here without leaving it."""
    ours, them = request.GET.get("ours", ""), request.GET.get("them", "")
    if not ours or not them:
        raise Http404
    rows = _thread_rows(request, ours, them)
    if not rows:
        raise Http404
    here = reverse("thread", args=[request.tenant.slug]) + "?" + query_without(request)
    context = {"ours": ours, "them": them, "rows": rows, "thread_url": here}
    if is_htmx(request) and request.method == "GET":
        return render(request, "messaging/_thread_rows.html", context)
    can_send = request.tenant_access.can(Scope.SEND)
    # Reply through the account the conversation last used, if it can still send.
    account = next(
        (
            a
            for a in (rows[-1].provider_account,)
            if a.status == ProviderAccount.Status.ACTIVE and a.can(Capability.SEND_SMS)
        ),
        None,
    )
    form = ReplyForm(initial={"key": uuid.uuid4().hex})
    status = 200
    if request.method == "POST":
        if not can_send:
            raise PermissionDenied("Your role does not allow sending.")
        form = ReplyForm(request.POST)
        if account is None:
            form.add_error(None, "This conversation's account cannot send right now.")
        if form.is_valid():
            key = form.cleaned_data["key"]
            try:
                services.queue_message(
                    request.tenant, account=account, from_number=ours, to=them,
                    body=form.cleaned_data["body"], idempotency_key=f"dash:{key}" if key else None,
                    created_by=request.user,
                )  # fmt: skip
            except SEND_ERRORS as exc:
                add_send_errors(form, exc)
            else:
                messages.success(request, "Reply queued.")
                return redirect(here)
        status = 400
    context.update({"form": form, "can_send": can_send, "account": account})
    return render(request, "messaging/thread.html", context, status=status)


# -- compose and bulk send ----------------------------------------------------------------------
def _send_accounts(request) -> list[ProviderAccount]:
    return [
        a
        for a in tenant_qs(request, ProviderAccount)
        .filter(status=ProviderAccount.Status.ACTIVE)
        .order_by("name")
        if a.can(Capability.SEND_SMS)
    ]


class ComposeForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, label="Send through")
    from_number = forms.CharField(
        max_length=32, label="From", help_text="One of your numbers, or an alphanumeric sender id (max 11)."
    )
    to = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="To",
        help_text="One or more numbers (+46701234567), separated by commas or new lines.",
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "data-sms-counter": ""}), max_length=1600)
    # A fresh key per rendered form: a double click or a resubmit never sends twice.
    key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(a.pk, str(a)) for a in accounts]

    def clean_to(self) -> list[str]:
        numbers = list(dict.fromkeys(n for n in NUMBER_SPLIT.split(self.cleaned_data["to"]) if n))
        if not numbers:
            raise forms.ValidationError("Enter at least one recipient.")
        problems = [p for p in map(phone_text_problem, numbers) if p]
        if problems:
            raise forms.ValidationError(problems)
        if len(numbers) > COMPOSE_MAX_RECIPIENTS:
            raise forms.ValidationError(
                f"At most {COMPOSE_MAX_RECIPIENTS} recipients here; use bulk send with a CSV for more."
            )
        return numbers


def _compose_context(request, form) -> dict:
    numbers = (
        tenant_qs(request, PhoneNumber)
        .filter(active=True, capabilities__contains=["sms"])
        .order_by("number")
        .values_list("number", flat=True)
    )
    return {
        "form": form,
        "our_numbers": list(numbers[:500]),
        "has_accounts": bool(form.fields["account"].choices),
        # A viewer sees why there is no form instead of a form that answers 403.
        "can_send": request.tenant_access.can(Scope.SEND),
    }


def compose(request):
    accounts = _send_accounts(request)
    if request.method != "POST":
        initial = {k: request.GET[k] for k in ("from_number", "to") if k in request.GET}
        form = ComposeForm(initial={**initial, "key": uuid.uuid4().hex}, accounts=accounts)
        return render(request, "messaging/compose.html", _compose_context(request, form))
    if not request.tenant_access.can(Scope.SEND):
        raise PermissionDenied("Your role does not allow sending.")
    form = ComposeForm(request.POST, accounts=accounts)
    if form.is_valid():
        data = form.cleaned_data
        account = next(a for a in accounts if a.pk == data["account"])
        key = f"dash:{data['key']}" if data["key"] else None
        try:
            if len(data["to"]) == 1:
                message = services.queue_message(
                    request.tenant, account=account, from_number=data["from_number"], to=data["to"][0],
                    body=data["body"], idempotency_key=key, created_by=request.user,
                )  # fmt: skip
            else:
                bulk = queue_bulk(
                    request.tenant, account, data["from_number"], data["body"], data["to"],
                    idempotency_key=key, created_by=request.user,
                )  # fmt: skip
        except SEND_ERRORS as exc:
            add_send_errors(form, exc)
        else:
            if len(data["to"]) == 1:
                messages.success(request, "Message queued.")
                return redirect("message", tenant_slug=request.tenant.slug, pk=message.pk)
            return redirect("bulk-progress", tenant_slug=request.tenant.slug, pk=bulk.pk)
    return render(request, "messaging/compose.html", _compose_context(request, form), status=400)


def _reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "message", None) or str(exc)


@require_POST
@scope_required(Scope.SEND)
def estimate(request):
    """htmx: the price of the compose form's message, as the service estimates it."""
    accounts = _send_accounts(request)
    form = ComposeForm(request.POST, accounts=accounts)
    context: dict = {"form": form}
    if not form.is_valid():
        context["error"] = "Fill in account, from, to and body to get an estimate."
    else:
        data = form.cleaned_data
        account = next(a for a in accounts if a.pk == data["account"])
        try:
            context["estimate"] = estimates.estimate_message(
                account, data["from_number"], data["to"][0], data["body"]
            )
            context["recipients"] = len(data["to"])
            context["total"] = context["estimate"].cost * len(data["to"])
        except (*SEND_ERRORS, estimates.NoEstimate, ProviderError) as exc:
            context["error"] = _reason(exc)
    return render(request, "messaging/_estimate.html", context)


class BulkForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, label="Send through")
    from_number = forms.CharField(max_length=32, label="From")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=1600)
    file = forms.FileField(
        label="Recipients (CSV)",
        help_text="One number per row, or a column named to/number/phone. Max 5 MB.",
    )

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(a.pk, str(a)) for a in accounts]

    def clean_file(self) -> str | None:
        """The CSV as text: a binary or unreadable file is a form error, not a crash. None
        when the preview's kept upload is being confirmed."""
        upload = self.cleaned_data["file"]
        if upload is None:
            return None
        if upload.size > BULK_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        try:
            return recipients_csv_text(upload, BULK_MAX_BYTES)
        except BadCsv as exc:
            raise forms.ValidationError(str(exc)) from None


PREVIEW_TTL = 30 * 60  # seconds an uploaded recipient list waits for its confirmation
PREVIEW_INVALID_SHOWN = 50


def _preview_key(request, token: str) -> str:
    return f"bulk-preview:{request.tenant.pk}:{request.user.pk}:{token}"


def _bulk_preview(account, from_number: str, body: str, content: str) -> dict:
    """What a bulk send would do, before anything is stored: recipients, rows it would
    skip and why, parts and encoding, and the price (the send itself re-checks all of it)."""
    valid: dict[str, int] = {}
    invalid = []
    for row in read_recipients(content):
        try:
            number = outbound_checks.parse_number(row.value)
        except ValueError as exc:
            invalid.append({"line": row.line, "value": row.value[:64], "reason": str(exc)})
            continue
        if number in valid:
            invalid.append({"line": row.line, "value": row.value[:64], "reason": "Duplicate recipient."})
            continue
        valid[number] = row.line
    encoding, parts = sms_parts(body)
    preview = {
        "recipients": len(valid),
        "sample": list(valid)[:5],
        "invalid": invalid[:PREVIEW_INVALID_SHOWN],
        "invalid_count": len(invalid),
        "encoding": {"gsm7": "GSM-7", "ucs2": "UCS-2"}.get(encoding, encoding),
        "parts": parts,
        "estimate": None,
        "estimate_error": "",
    }
    if valid:
        try:
            estimate = estimates.estimate_message(account, from_number, next(iter(valid)), body)
        except (*SEND_ERRORS, estimates.NoEstimate, ProviderError) as exc:
            preview["estimate_error"] = _reason(exc)
        else:
            preview["estimate"] = estimate
            preview["total"] = estimate.cost * len(valid)
    return preview


def bulk_send(request):
    """Upload, then a preview (recipients, skipped rows, parts, price), then Confirm."""
    accounts = _send_accounts(request)
    form = BulkForm(accounts=accounts)
    status = 200
    preview = None
    token = ""
    if request.method == "POST":
        if not request.tenant_access.can(Scope.SEND):
            raise PermissionDenied("Your role does not allow sending.")
        token = request.POST.get("preview_token", "")
        # A new upload replaces the one kept for the preview.
        content = cache.get(_preview_key(request, token)) if token and not request.FILES.get("file") else None
        files = request.FILES if content is None else None
        form = BulkForm(request.POST, files, accounts=accounts)
        if content is not None:
            form.fields["file"].required = False
        if form.is_valid():
            data = form.cleaned_data
            account = next(a for a in accounts if a.pk == data["account"])
            if content is None:
                content = data["file"]
            if "confirm" not in request.POST:
                token = uuid.uuid4().hex
                cache.set(_preview_key(request, token), content, PREVIEW_TTL)
                preview = _bulk_preview(account, data["from_number"], data["body"], content)
            else:
                try:
                    bulk = queue_bulk(
                        request.tenant, account, data["from_number"], data["body"], content,
                        idempotency_key=f"dash:{token}" if token else None, created_by=request.user,
                    )  # fmt: skip
                except SEND_ERRORS as exc:
                    add_send_errors(form, exc)
                else:
                    cache.delete(_preview_key(request, token))
                    return redirect("bulk-progress", tenant_slug=request.tenant.slug, pk=bulk.pk)
        if preview is None:
            status = 400
    recent = tenant_qs(request, BulkSend).select_related("account")[:10]
    context = {**_compose_context(request, form), "recent": recent, "preview": preview, "token": token}
    return render(request, "messaging/bulk.html", context, status=status)


def bulk_progress(request, pk: int):
    """A bulk's messages by stage; the page polls this every 2 s with htmx until none is pending."""
    bulk = tenant_object_or_404(request, BulkSend.objects.select_related("account"), pk=pk)
    progress = bulk.progress
    # Sent is not the end: delivery reports keep moving counts to delivered/failed. Poll
    # until nothing is pending and no report is awaited (or the bulk is old: a provider
    # without delivery reports leaves messages "sent" for good).
    awaiting = progress["pending"] > 0
    if not awaiting and progress["sent"] and bulk.created_at > timezone.now() - LIVE_WINDOW:
        awaiting = True
    context = {
        "bulk": bulk,
        "progress": progress,
        "live": awaiting,
        "settled": progress["done"] and not awaiting,
        "handed": progress["total"] - progress["pending"],
    }
    template = "messaging/_bulk_progress.html" if is_htmx(request) else "messaging/bulk_progress.html"
    return render(request, template, context)
