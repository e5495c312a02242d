"""REST resources of billing: usage rollups, balances, statements, notifications and the
tenant's billing settings. Everything reads rollups and snapshots, never raw tables."""

from __future__ import annotations

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import TenantScopedReadOnlyViewSet, TenantScopedViewSet
from accounts.models import Scope
from providers.models import ProviderAccount

from . import checks
from .balances import forecast_days_left
from .filters import BalanceFilter, NotificationFilter
from .models import BalanceSnapshot, BillingSettings, DailyUsage, Notification
from .periods import FIRST_YEAR, LAST_YEAR, local_date, parse_month
from .serializers import (
    BalanceSnapshotSerializer,
    BillingSettingsSerializer,
    LatestBalanceSerializer,
    NotificationSerializer,
    StatementSerializer,
    UsageQuerySerializer,
    UsageRowSerializer,
)
from .statements import build_statement, statement_csv_rows

GROUP_FIELDS = {
    "day": "day",
    "provider_account": "provider_account_id",
    "subaccount": "subaccount_id",
    "kind": "kind",
    "direction": "direction",
}


class UsageViewSet(TenantScopedViewSet):
    """Usage rollups grouped over a date range (tenant time), totals per currency."""

    queryset = None  # aggregates only: no detail route, so outside the per-object matrix
    model = DailyUsage
    pagination_class = None
    filter_backends: list = []

    @extend_schema(parameters=[UsageQuerySerializer], responses=UsageRowSerializer(many=True))
    def list(self, request):
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = self.get_queryset().filter(day__gte=params["start"], day__lte=params["end"])
        for name in ("provider_account", "kind", "direction"):
            if params.get(name) is not None:
                rows = rows.filter(**{GROUP_FIELDS[name]: params[name]})
        groups = params["group_by"]
        fields = [GROUP_FIELDS[g] for g in groups if g != "month"]
        if "month" in groups:
            rows = rows.annotate(month=TruncMonth("day"))
            fields.append("month")
        fields.append("currency")
        data = (
            rows.values(*fields)
            .annotate(count=Sum("count"), parts=Sum("parts"), seconds=Sum("seconds"), cost=Sum("cost"))
            .order_by(*fields)
        )
        out = []
        for row in data:
            item = {g: row[GROUP_FIELDS[g]] for g in groups if g != "month"}
            if "month" in groups:
                item["month"] = row["month"].strftime("%Y-%m")
            item.update(
                currency=row["currency"],
                count=row["count"],
                parts=row["parts"],
                seconds=row["seconds"],
                cost=row["cost"],
            )
            out.append(item)
        return Response(UsageRowSerializer(out, many=True).data)


class BalanceViewSet(TenantScopedReadOnlyViewSet):
    """Balance snapshots taken from the providers on a schedule."""

    queryset = BalanceSnapshot.objects.all()
    serializer_class = BalanceSnapshotSerializer
    filterset_class = BalanceFilter
    cursor_ordering = ("-taken_at", "-id")

    @extend_schema(responses=LatestBalanceSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def latest(self, request):
        """The newest balance of each account, with a days-of-credit forecast."""
        accounts = {a.pk: a for a in ProviderAccount.objects.for_tenant(self.tenant).select_related("tenant")}
        latest = (
            self.get_queryset()
            .filter(provider_account_id__in=accounts)
            .order_by("provider_account_id", "-taken_at")
            .distinct("provider_account_id")
        )
        data = [
            {
                "provider_account": snap.provider_account_id,
                "provider_account_name": accounts[snap.provider_account_id].name,
                "amount": snap.amount,
                "currency": snap.currency,
                "credit_alert": snap.credit_alert,
                "taken_at": snap.taken_at,
                "days_left": forecast_days_left(accounts[snap.provider_account_id]),
            }
            for snap in latest
        ]
        return Response(LatestBalanceSerializer(data, many=True).data)


class StatementViewSet(TenantScopedViewSet):
    """Monthly statements: lines per account, subaccount and kind; totals per currency."""

    queryset = None  # built from the tenant's rollups; no per-object routes
    model = DailyUsage
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month",
                {"type": "string", "pattern": r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"},
                required=False,
                description="YYYY-MM (tenant time): just that month. Without it, the "
                "current month and the ones before it (see `months`).",
            ),
            OpenApiParameter(
                "months",
                {"type": "integer", "minimum": 1, "maximum": 24},
                required=False,
                description="How many months back from the current one (1-24, default 3).",
            ),
            OpenApiParameter(
                "export",
                OpenApiTypes.STR,
                enum=["csv"],
                required=False,
                description="csv streams one month's statement as a CSV file (needs month).",
            ),
        ],
        responses={200: StatementSerializer(many=True), (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def list(self, request):
        if request.query_params.get("export", "csv") != "csv":
            raise exceptions.ValidationError({"export": ["Only csv."]})
        months = self._months(request.query_params)
        if request.query_params.get("export") == "csv":
            if "month" not in request.query_params:
                raise exceptions.ValidationError(
                    {"month": ["A CSV export is of one month: add month=YYYY-MM."]}
                )
            year, mon = months[0]
            statement = build_statement(self.tenant, year, mon)
            response = StreamingHttpResponse(statement_csv_rows(statement), content_type="text/csv")
            filename = f"statement-{self.tenant.slug}-{year:04d}-{mon:02d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        data = []
        for year, mon in months:
            statement = build_statement(self.tenant, year, mon)
            totals = [{"currency": c, **t} for c, t in sorted(statement.totals.items())]
            data.append(
                {
                    "month": f"{year:04d}-{mon:02d}",
                    "markup_percent": statement.markup_percent,
                    "lines": statement.lines,
                    "totals": totals,
                }
            )
        return Response(StatementSerializer(data, many=True).data)

    def _months(self, params) -> list[tuple[int, int]]:
        count = self._month_count(params)  # checked even when `month` wins
        if "month" in params:
            parsed = parse_month(params["month"])
            if parsed is None:
                raise exceptions.ValidationError(
                    {"month": [f"Use YYYY-MM between {FIRST_YEAR} and {LAST_YEAR}, e.g. 2026-11."]}
                )
            return [parsed]
        today = local_date(self.tenant)
        year, mon, out = today.year, today.month, []
        for _ in range(count):
            out.append((year, mon))
            year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
        return out

    @staticmethod
    def _month_count(params) -> int:
        try:
            count = int(params.get("months", "3"))
        except ValueError:
            raise exceptions.ValidationError({"months": ["A whole number of months."]}) from None
        if not 1 <= count <= 24:
            raise exceptions.ValidationError({"months": ["Between 1 and 24."]})
        return count


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    # Read state is shared by the whole tenant: marking read is a write (members and up;
    # keys with `send`), never something a read-only key or a viewer can do.
    action_scopes = {"read": Scope.SEND}

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark as read."""
        note = self.get_object()
        Notification.objects.for_tenant(self.tenant).filter(pk=note.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        note.refresh_from_db()
        return Response(NotificationSerializer(note).data)


class BillingSettingsViewSet(TenantScopedViewSet):
    """The tenant's caps, alert levels and statement markup (manage scope to change)."""

    serializer_class = BillingSettingsSerializer
    queryset = None  # one row per tenant, reached through /current/
    model = BillingSettings
    pagination_class = None
    filter_backends: list = []
    action_scopes = {"current": Scope.READ, "update_current": Scope.MANAGE}

    @extend_schema(responses=BillingSettingsSerializer)
    @action(detail=False, methods=["get"], url_path="current")
    def current(self, request):
        settings_, _ = BillingSettings.objects.get_or_create(tenant=self.tenant)
        return Response(BillingSettingsSerializer(settings_).data)

    @extend_schema(request=BillingSettingsSerializer, responses=BillingSettingsSerializer)
    @current.mapping.patch
    def update_current(self, request):
        settings_, _ = BillingSettings.objects.get_or_create(tenant=self.tenant)
        serializer = BillingSettingsSerializer(settings_, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        checks.after_settings_change(self.tenant)
        return Response(serializer.data)
