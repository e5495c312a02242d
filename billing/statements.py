"""Monthly statements per tenant, read from the rollups (never the raw tables)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from accounts.models import Tenant
from core.csv_export import csv_lines

from .models import BillingSettings, DailyUsage
from .periods import month_bounds

CENT = Decimal("0.01")


@dataclass
class StatementLine:
    provider_account_id: int
    provider_account: str
    subaccount_id: int | None
    subaccount: str
    kind: str
    currency: str
    count: int
    parts: int
    seconds: int
    cost: Decimal
    billed: Decimal


@dataclass
class Statement:
    tenant: Tenant
    year: int
    month: int
    markup_percent: Decimal
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, dict[str, Decimal]]:
        """Per currency: cost and billed (with markup)."""
        out: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"cost": Decimal(0), "billed": Decimal(0)})
        for line in self.lines:
            out[line.currency]["cost"] += line.cost
            out[line.currency]["billed"] += line.billed
        return dict(out)


def build_statement(tenant: Tenant, year: int, month: int) -> Statement:
    first, nxt = month_bounds(year, month)
    billing = BillingSettings.objects.filter(tenant=tenant).first()
    markup = billing.markup_percent if billing else Decimal(0)
    factor = 1 + markup / 100
    rows = (
        DailyUsage.objects.for_tenant(tenant)
        .filter(day__gte=first, day__lt=nxt)
        .values(
            "provider_account_id",
            "provider_account__name",
            "subaccount_id",
            "subaccount__name",
            "kind",
            "currency",
        )
        .annotate(count=Sum("count"), parts=Sum("parts"), seconds=Sum("seconds"), cost=Sum("cost"))
        .order_by("provider_account__name", "subaccount__name", "kind", "currency")
    )
    statement = Statement(tenant, year, month, markup)
    for r in rows:
        cost = r["cost"] or Decimal(0)
        if not r["count"] and not cost:
            continue  # nothing used and nothing charged: not a line of a statement
        statement.lines.append(
            StatementLine(
                provider_account_id=r["provider_account_id"],
                provider_account=r["provider_account__name"],
                subaccount_id=r["subaccount_id"],
                subaccount=r["subaccount__name"] or "",
                kind=r["kind"],
                currency=r["currency"],
                count=r["count"],
                parts=r["parts"],
                seconds=r["seconds"],
                cost=cost,
                billed=(cost * factor).quantize(CENT, ROUND_HALF_UP),
            )
        )
    return statement


CSV_HEADER = [
    "month",
    "provider_account",
    "subaccount",
    "kind",
    "currency",
    "count",
    "parts",
    "seconds",
    "cost",
    "markup_percent",
    "billed",
]


def statement_csv_rows(statement: Statement) -> Iterator[str]:
    """Lines of the CSV export (header, one per line, one total per currency), streamed."""
    month = f"{statement.year:04d}-{statement.month:02d}"
    rows = [
        [
            month,
            line.provider_account,
            line.subaccount,
            line.kind,
            line.currency,
            line.count,
            line.parts,
            line.seconds,
            line.cost,
            statement.markup_percent,
            line.billed,
        ]
        for line in statement.lines
    ]
    rows += [
        [
            month,
            "TOTAL",
            "",
            "",
            currency,
            "",
            "",
            "",
            total["cost"],
            statement.markup_percent,
            total["billed"],
        ]
        for currency, total in sorted(statement.totals.items())
    ]
    return csv_lines(CSV_HEADER, rows)
