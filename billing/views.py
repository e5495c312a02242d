"""Dashboard pages of billing: usage charts, monthly statements, notifications and billing
settings (and the balances and spend the tenant overview shows). Every chart and total
reads the DailyUsage rollups, never the raw message or call tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.models import Scope
from accounts.permissions import scope_required
from accounts.tenancy import tenant_object_or_404, tenant_qs
from core.web import is_htmx
from providers.models import ProviderAccount

from . import checks
from .balances import forecast_days_left
from .models import BalanceSnapshot, BillingSettings, DailyUsage, Notification, UsageKind
from .periods import local_date, month_start, parse_month
from .statements import build_statement, statement_csv_rows

MAX_RANGE_DAYS = 366
MESSAGE_KINDS = (UsageKind.SMS, UsageKind.MMS)


def latest_balances(request) -> list[dict]:
    """The latest balance of each root account with its days-of-credit forecast."""
    accounts = {a.pk: a for a in tenant_qs(request, ProviderAccount).filter(parent__isnull=True)}
    latest = (
        tenant_qs(request, BalanceSnapshot)
        .filter(provider_account_id__in=list(accounts))
        .order_by("provider_account_id", "-taken_at")
        .distinct("provider_account_id")
    )
    rows = []
    for snapshot in latest:
        account = accounts[snapshot.provider_account_id]
        rows.append({"account": account, "snapshot": snapshot, "days_left": forecast_days_left(account)})
    return sorted(rows, key=lambda r: r["account"].name)


def month_spend(request) -> list[dict]:
    first = month_start(request.tenant)
    return list(
        tenant_qs(request, DailyUsage)
        .filter(day__gte=first)
        .exclude(currency="")
        .values("currency")
        .annotate(cost=Sum("cost"))
        .order_by("currency")
    )


# -- usage ------------------------------------------------------------------------------------
def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _date_range(request) -> tuple[date, date]:
    today = local_date(request.tenant)
    days = request.GET.get("days")
    if days and days.isdigit():
        start = today - timedelta(days=min(int(days), MAX_RANGE_DAYS) - 1)
        return start, today
    end = _parse_day(request.GET.get("end")) or today
    start = _parse_day(request.GET.get("start")) or end - timedelta(days=29)
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_RANGE_DAYS - 1))
    return start, end


def usage_daily(request):
    """Chart data from the rollups: one dataset per series over every day of the range.

    series=traffic (messages and calls per day, the overview) | kind | account;
    metric=count | cost (cost needs one currency: ?currency=SEK, defaulting to the tenant's).
    """
    start, end = _date_range(request)
    series = request.GET.get("series", "traffic")
    metric = request.GET.get("metric", "count")
    rows = tenant_qs(request, DailyUsage).filter(day__gte=start, day__lte=end)
    if account := request.GET.get("account"):
        if not account.isdigit():
            raise Http404
        rows = rows.filter(provider_account_id=tenant_object_or_404(request, ProviderAccount, pk=account).pk)
    if metric == "cost":
        rows = rows.filter(currency=request.GET.get("currency") or request.tenant.default_currency)
    value = "cost" if metric == "cost" else "count"
    if series == "account":
        names = dict(tenant_qs(request, ProviderAccount).values_list("pk", "name"))
        grouped = rows.values("day", "provider_account_id").annotate(v=Sum(value))
        key_of = lambda r: names.get(r["provider_account_id"], "?")  # noqa: E731
    elif series == "kind":
        grouped = rows.values("day", "kind").annotate(v=Sum(value))
        key_of = lambda r: UsageKind(r["kind"]).label  # noqa: E731
    else:
        grouped = (
            rows.filter(kind__in=[*MESSAGE_KINDS, UsageKind.CALL])
            .values("day", "kind")
            .annotate(v=Sum(value))
        )
        key_of = lambda r: "Calls" if r["kind"] == UsageKind.CALL else "Messages"  # noqa: E731
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    data: dict[str, list] = defaultdict(lambda: [0] * len(days))
    for r in grouped:
        data[key_of(r)][index[r["day"]]] += r["v"] or 0
    if series == "traffic":
        for name in ("Messages", "Calls"):
            data[name]
    return JsonResponse(
        {
            "labels": [d.isoformat() for d in days],
            "metric": metric,
            "datasets": [
                {"label": name, "data": [str(v) if isinstance(v, Decimal) else v for v in values]}
                for name, values in sorted(data.items())
            ],
        }
    )


def usage(request):
    start, end = _date_range(request)
    rows = tenant_qs(request, DailyUsage).filter(day__gte=start, day__lte=end)
    account = request.GET.get("account", "")
    if account.isdigit():
        rows = rows.filter(provider_account_id=account)
    totals = (
        rows.values("kind", "currency")
        .annotate(count=Sum("count"), parts=Sum("parts"), seconds=Sum("seconds"), cost=Sum("cost"))
        .order_by("kind", "currency")
    )
    params = request.GET.copy()
    params.pop("days", None)
    params["start"], params["end"] = start.isoformat(), end.isoformat()
    chart_url = reverse("usage-daily", args=[request.tenant.slug]) + "?" + params.urlencode()
    currencies = sorted(
        set(tenant_qs(request, DailyUsage).exclude(currency="").values_list("currency", flat=True).distinct())
    )
    return render(
        request,
        "billing/usage.html",
        {
            "start": start,
            "end": end,
            "totals": totals,
            "accounts": tenant_qs(request, ProviderAccount).filter(parent__isnull=True),
            "account": account,
            "series": request.GET.get("series", "kind"),
            "metric": request.GET.get("metric", "count"),
            "currency": request.GET.get("currency", ""),
            "currencies": currencies,
            "chart_url": chart_url,
        },
    )


# -- statements -------------------------------------------------------------------------------
def _month(request) -> tuple[int, int]:
    parsed = parse_month(request.GET.get("month", ""))
    if parsed is None:  # missing or unusable: this month
        first = month_start(request.tenant)
        return first.year, first.month
    return parsed


def statement(request):
    year, month = _month(request)
    current = month_start(request.tenant)
    months = []
    cursor = current
    for _ in range(12):
        months.append(cursor)
        cursor = (cursor - timedelta(days=1)).replace(day=1)
    return render(
        request,
        "billing/statement.html",
        {
            "statement": build_statement(request.tenant, year, month),
            "period": date(year, month, 1),
            "months": months,
        },
    )


def statement_csv(request):
    year, month = _month(request)
    rows = statement_csv_rows(build_statement(request.tenant, year, month))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{request.tenant.slug}-{year:04d}-{month:02d}.csv"'
    )
    return response


# -- notifications ------------------------------------------------------------------------------
def notifications(request):
    rows = tenant_qs(request, Notification)
    if request.GET.get("unread"):
        rows = rows.filter(read_at__isnull=True)
    context = {"notifications": rows[:200], "live": True}
    if is_htmx(request) and request.headers.get("HX-Target") == "notification-list":
        return render(request, "billing/_notification_list.html", context)
    return render(request, "billing/notifications.html", context)


@require_POST
@scope_required(Scope.SEND)
def notification_read(request, pk: int):
    # Read state is shared by the whole tenant, so viewers (read only) cannot change it.
    note = tenant_object_or_404(request, Notification, pk=pk)
    tenant_qs(request, Notification).filter(pk=note.pk, read_at__isnull=True).update(read_at=timezone.now())
    if is_htmx(request):
        note.refresh_from_db()
        return render(request, "billing/_notification.html", {"n": note})
    return redirect("notifications", tenant_slug=request.tenant.slug)


@require_POST
@scope_required(Scope.SEND)
def notifications_read_all(request):
    tenant_qs(request, Notification).filter(read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, "All notifications marked as read.")
    return redirect("notifications", tenant_slug=request.tenant.slug)


# -- settings -----------------------------------------------------------------------------------
COMMON_CURRENCIES = ("SEK", "EUR", "GBP", "USD", "NOK", "DKK", "CHF", "PLN")


class CurrencyChoiceField(forms.ChoiceField):
    def to_python(self, value):
        return super().to_python(value).strip().upper()


class BillingSettingsForm(forms.ModelForm):
    spend_cap_currency = CurrencyChoiceField(
        required=False, label="Spend cap currency", help_text="The currency the monthly spend cap counts in."
    )

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        known = dict.fromkeys([*currencies, *COMMON_CURRENCIES])
        current = self.instance.spend_cap_currency
        if current:
            known.setdefault(current, None)
        self.fields["spend_cap_currency"].choices = [("", "—")] + [(c, c) for c in known]
        labels = {
            "monthly_spend_cap": "Monthly spend cap",
            "monthly_message_cap": "Monthly message cap",
            "low_balance_threshold": "Low balance alert below",
            "markup_percent": "Markup (%)",
            "alert_emails": "Email owners and admins on alerts",
        }
        for name, label in labels.items():
            self.fields[name].label = label
        self.fields["monthly_spend_cap"].help_text = (
            "Sends stop once this month's spend reaches it; empty for none."
        )
        self.fields["monthly_message_cap"].help_text = "Messages per month; empty for none."
        self.fields["alert_emails"].help_text = ""

    class Meta:
        model = BillingSettings
        fields = [
            "monthly_spend_cap",
            "spend_cap_currency",
            "monthly_message_cap",
            "low_balance_threshold",
            "markup_percent",
            "alert_emails",
        ]

    def clean_spend_cap_currency(self) -> str:
        value = (self.cleaned_data.get("spend_cap_currency") or "").upper()
        if value and (len(value) != 3 or not value.isalpha()):
            raise forms.ValidationError("An ISO 4217 code of three letters, e.g. SEK.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("monthly_spend_cap") is not None and not data.get("spend_cap_currency"):
            self.add_error("spend_cap_currency", "A spend cap needs its currency.")
        for name in ("monthly_spend_cap", "low_balance_threshold", "markup_percent"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, "Must be zero or more.")
        return data


def billing_settings(request):
    instance = BillingSettings.objects.filter(tenant=request.tenant).first() or BillingSettings(
        tenant=request.tenant
    )
    can_manage = request.tenant_access.can(Scope.MANAGE)
    currencies = [
        request.tenant.default_currency,
        *tenant_qs(request, DailyUsage).exclude(currency="").values_list("currency", flat=True).distinct(),
    ]
    form = BillingSettingsForm(instance=instance, currencies=currencies)
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only owners and admins may change billing settings.")
        form = BillingSettingsForm(request.POST, instance=instance, currencies=currencies)
        if form.is_valid():
            form.save()
            checks.after_settings_change(request.tenant)
            audit.record(
                request.tenant, request.user, "billing_settings.update", instance, fields=form.changed_data
            )
            messages.success(request, "Billing settings saved.")
            return redirect("billing-settings", tenant_slug=request.tenant.slug)
        status = 400
    return render(
        request,
        "billing/settings.html",
        {"form": form, "can_manage": can_manage, "settings": instance},
        status=status,
    )


def balance_history(request, pk: int):
    """Chart data: the balance snapshots of one account over the last 90 days."""
    account = tenant_object_or_404(request, ProviderAccount, pk=pk)
    since = timezone.now() - timedelta(days=90)
    snaps = (
        tenant_qs(request, BalanceSnapshot)
        .filter(provider_account=account, taken_at__gte=since)
        .order_by("taken_at")[:2000]
    )
    points = [
        (timezone.localtime(s.taken_at).strftime("%Y-%m-%d %H:%M"), str(s.amount), s.currency) for s in snaps
    ]
    return JsonResponse(
        {
            "labels": [p[0] for p in points],
            "datasets": [
                {
                    "label": f"Balance ({points[-1][2]})" if points else "Balance",
                    "data": [p[1] for p in points],
                }
            ],
        }
    )
