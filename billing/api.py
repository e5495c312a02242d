"""REST resources of billing: usage rollups, balances, statements, notifications and the
tenant's billing settings. Everything reads rollups and snapshots, never raw tables."""

from __future__ import annotations

import re

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

from .balances import forecast_days_left
from .models import BalanceSnapshot, BillingSettings, DailyUsage, Notification
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

    queryset = DailyUsage.objects.all()
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
    filterset_fields = ["provider_account"]
    cursor_ordering = ("-taken_at", "-id")

    @extend_schema(responses=LatestBalanceSerializer(many=True))
    @action(detail=False, methods=["get"])
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


MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class StatementViewSet(TenantScopedViewSet):
    """Monthly statements: lines per account, subaccount and kind; totals per currency."""

    queryset = DailyUsage.objects.all()
    lookup_field = "month"
    lookup_value_regex = r"\d{4}-\d{2}"
    pagination_class = None
    filter_backends: list = []

    def _month(self, month: str) -> tuple[int, int]:
        match = MONTH.match(month or "")
        if not match or not 1 <= int(match[2]) <= 12:
            raise exceptions.NotFound("Statements are addressed by month, YYYY-MM.")
        return int(match[1]), int(match[2])

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "export",
                OpenApiTypes.STR,
                enum=["csv"],
                required=False,
                description="csv streams the statement as a CSV file.",
            )
        ],
        responses={200: StatementSerializer, (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def retrieve(self, request, month=None):
        year, mon = self._month(month)
        statement = build_statement(self.tenant, year, mon)
        if request.query_params.get("export") == "csv":
            response = StreamingHttpResponse(statement_csv_rows(statement), content_type="text/csv")
            response["Content-Disposition"] = (
                f'attachment; filename="statement-{self.tenant.slug}-{month}.csv"'
            )
            return response
        totals = [{"currency": c, **t} for c, t in sorted(statement.totals.items())]
        return Response(
            StatementSerializer(
                {
                    "month": month,
                    "markup_percent": statement.markup_percent,
                    "lines": statement.lines,
                    "totals": totals,
                }
            ).data
        )

    @extend_schema(responses=StatementSerializer)
    @action(detail=False, methods=["get"])
    def current(self, request):
        now = timezone.localtime(timezone.now())
        return self.retrieve(request, month=f"{now.year:04d}-{now.month:02d}")


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_fields = ["kind", "level"]
    action_scopes = {"read": Scope.READ}

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
    queryset = DailyUsage.objects.none()
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
        return Response(serializer.data)
