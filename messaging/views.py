"""Dashboard pages of messaging: the message list (keyset pages, filters, CSV export), a
message's detail and media, conversations, compose and bulk send."""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from datetime import datetime, time, timedelta
from numbers.models import PhoneNumber
from types import ModuleType

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Scope
from accounts.permissions import scope_required
from accounts.views import csv_response, is_htmx, keyset_page, query_without, tenant_object_or_404, tenant_qs
from providers.adapters.records import Capability
from providers.models import ProviderAccount

from .api import COUNTERPART, OUR_NUMBER
from .filters import MessageFilter
from .models import Message, MessageMedia

TEXT_SEARCH_DEFAULT_DAYS = 30  # a body search without a date range is bounded to this
CONVERSATION_DAYS = 30
THREAD_LIMIT = 200
BULK_MAX_ROWS = 10_000
INLINE_MEDIA = {"image/png", "image/jpeg", "image/gif", "image/webp"}
NUMBER_SPLIT = re.compile(r"[\s,;]+")


def sending() -> ModuleType | None:
    """messaging.services once the send path exists (another engineer's work in progress);
    until then the dashboard shows the forms without a submit button."""
    try:
        from . import services
    except ImportError:
        return None
    return services if hasattr(services, "queue_message") else None


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
    if q and not q.lstrip("+").replace(" ", "").isdigit() and start is None:
        # A body search is a scan; keep it to recent history unless a range is given.
        start = timezone.now() - timedelta(days=TEXT_SEARCH_DEFAULT_DAYS)
    if start:
        data["created_after"] = start.isoformat()
    if end:
        data["created_before"] = end.isoformat()
    qs = tenant_qs(request, Message).select_related("provider_account", "number")
    filterset = MessageFilter(data, queryset=qs, request=request)
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
    return render(
        request,
        "messaging/message_detail.html",
        {
            "message": message,
            "timeline": timeline,
            "media": message.media.filter(tenant_id=request.tenant.pk),
        },
    )


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


def thread(request):
    ours, them = request.GET.get("ours", ""), request.GET.get("them", "")
    if not ours or not them:
        raise Http404
    rows = list(
        tenant_qs(request, Message)
        .filter(Q(from_number=ours, to_number=them) | Q(from_number=them, to_number=ours))
        .prefetch_related("media")
        .order_by("-created_at", "-id")[:THREAD_LIMIT]
    )
    if not rows:
        raise Http404
    rows.reverse()
    service = sending()
    return render(
        request,
        "messaging/thread.html",
        {
            "ours": ours,
            "them": them,
            "rows": rows,
            "account": rows[-1].provider_account,
            "can_send": request.tenant_access.can(Scope.SEND) and service is not None,
            "sending_ready": service is not None,
        },
    )


# -- compose and bulk send ----------------------------------------------------------------------
def _send_accounts(request):
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
        help_text="One or more E.164 numbers (+46701234567), separated by commas or new lines.",
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "data-sms-counter": ""}), max_length=1600)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(a.pk, str(a)) for a in accounts]

    def clean_to(self) -> list[str]:
        numbers = [n for n in NUMBER_SPLIT.split(self.cleaned_data["to"]) if n]
        bad = [n for n in numbers if not re.fullmatch(r"\+[1-9]\d{6,14}", n)]
        if bad:
            raise forms.ValidationError(f"Not E.164 numbers: {', '.join(bad[:5])}")
        if not numbers:
            raise forms.ValidationError("Enter at least one recipient.")
        if len(numbers) > 100:
            raise forms.ValidationError("At most 100 recipients here; use bulk send for more.")
        return list(dict.fromkeys(numbers))

    def clean_from_number(self) -> str:
        value = self.cleaned_data["from_number"].strip()
        if value.startswith("+"):
            if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
                raise forms.ValidationError("A number must be E.164, e.g. +46701234567.")
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ]{0,10}", value) or value.isdigit():
            raise forms.ValidationError("A sender id is 1–11 letters or digits and not only digits.")
        return value


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
        "sending_ready": sending() is not None,
        "has_accounts": bool(form.fields["account"].choices),
    }


def compose(request):
    accounts = _send_accounts(request)
    initial = {k: request.GET[k] for k in ("from_number", "to") if k in request.GET}
    if request.method == "POST":
        if not request.tenant_access.can(Scope.SEND):
            raise PermissionDenied("Your role does not allow sending.")
        form = ComposeForm(request.POST, accounts=accounts)
        service = sending()
        if form.is_valid() and service is None:
            form.add_error(None, "Sending from the dashboard is not available yet.")
        if form.is_valid():
            data = form.cleaned_data
            account = next(a for a in accounts if a.pk == data["account"])
            queued, errors = [], []
            for to in data["to"]:
                try:
                    queued.append(
                        service.queue_message(
                            account, from_number=data["from_number"], to_number=to, body=data["body"],
                            actor=request.user,
                        )
                    )  # fmt: skip
                except Exception as exc:  # the service's validation errors carry a user message
                    errors.append(f"{to}: {exc}")
            for error in errors:
                form.add_error(None, error)
            if queued and not errors:
                messages.success(request, f"Queued {len(queued)} message(s).")
                if len(queued) == 1:
                    return redirect("message", tenant_slug=request.tenant.slug, pk=queued[0].pk)
                return redirect("messages", tenant_slug=request.tenant.slug)
        return render(request, "messaging/compose.html", _compose_context(request, form), status=400)
    form = ComposeForm(initial=initial, accounts=accounts)
    return render(request, "messaging/compose.html", _compose_context(request, form))


@require_POST
@scope_required(Scope.SEND)
def estimate(request):
    """htmx: the price of the compose form's message, as the service estimates it."""
    accounts = _send_accounts(request)
    form = ComposeForm(request.POST, accounts=accounts)
    context: dict = {"form": form}
    service = sending()
    if not form.is_valid():
        context["error"] = "Fill in account, from, to and body to get an estimate."
    elif service is None or not hasattr(service, "estimate_message"):
        context["error"] = "Price estimates are not available yet."
    else:
        data = form.cleaned_data
        account = next(a for a in accounts if a.pk == data["account"])
        try:
            context["estimate"] = service.estimate_message(
                account, from_number=data["from_number"], to_number=data["to"][0], body=data["body"]
            )
            context["recipients"] = len(data["to"])
        except Exception as exc:  # provider refusals and validation errors carry a user message
            context["error"] = str(exc)
    return render(request, "messaging/_estimate.html", context)


class BulkForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, label="Send through")
    from_number = forms.CharField(max_length=32, label="From")
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: to, body (optional: one body for every row below). Max 10,000 rows.",
    )
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "data-sms-counter": ""}),
        help_text="Used for rows without a body.",
    )

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(a.pk, str(a)) for a in accounts]

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is None:
            return data
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The CSV file must be UTF-8.") from None
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "to" not in [f.strip().lower() for f in reader.fieldnames]:
            raise forms.ValidationError("The CSV needs a header row with a 'to' column.")
        rows, bad = [], []
        for line, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            to, body = row.get("to", ""), row.get("body") or data.get("body") or ""
            if not re.fullmatch(r"\+[1-9]\d{6,14}", to) or not body:
                bad.append(str(line))
                continue
            rows.append({"to": to, "body": body})
            if len(rows) > BULK_MAX_ROWS:
                raise forms.ValidationError(f"At most {BULK_MAX_ROWS:,} rows per upload.")
        if bad:
            more = "…" if len(bad) > 10 else ""
            raise forms.ValidationError(
                f"Rows without an E.164 'to' or a body: line {', '.join(bad[:10])}{more}."
            )
        if not rows:
            raise forms.ValidationError("The CSV has no rows.")
        data["rows"] = rows
        return data


def bulk_send(request):
    accounts = _send_accounts(request)
    service = sending()
    ready = service is not None and hasattr(service, "bulk_send")
    form = BulkForm(accounts=accounts)
    status = 200
    if request.method == "POST":
        if not request.tenant_access.can(Scope.SEND):
            raise PermissionDenied("Your role does not allow sending.")
        form = BulkForm(request.POST, request.FILES, accounts=accounts)
        if form.is_valid() and not ready:
            form.add_error(None, "Bulk sending from the dashboard is not available yet.")
        if form.is_valid():
            data = form.cleaned_data
            account = next(a for a in accounts if a.pk == data["account"])
            batch = service.bulk_send(
                account, from_number=data["from_number"], rows=data["rows"], actor=request.user
            )
            return redirect(
                reverse("bulk-progress", args=[request.tenant.slug])
                + f"?batch={getattr(batch, 'key', batch)}"
            )
        status = 400
    return render(
        request,
        "messaging/bulk.html",
        {**_compose_context(request, form), "sending_ready": ready},
        status=status,
    )


def bulk_progress(request):
    """Counts by status of one bulk batch (messages sharing an idempotency-key prefix);
    the page polls this every 2 s with htmx until nothing is queued or sending."""
    batch = request.GET.get("batch", "")
    if not re.fullmatch(r"[\w:.-]{4,100}", batch):
        raise Http404
    counts = dict(
        tenant_qs(request, Message)
        .filter(idempotency_key__startswith=f"{batch}:")
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    total = sum(counts.values())
    pending = counts.get("queued", 0) + counts.get("sending", 0)
    context = {
        "batch": batch,
        "counts": sorted(counts.items()),
        "total": total,
        "pending": pending,
        "done": total - pending,
    }
    template = "messaging/_bulk_progress.html" if is_htmx(request) else "messaging/bulk_progress.html"
    return render(request, template, context)
