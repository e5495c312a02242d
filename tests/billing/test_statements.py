from datetime import date
from decimal import Decimal

import pytest

from billing.models import BillingSettings
from billing.statements import build_statement, statement_csv_rows
from billing.usage import UsageDelta, UsageKey, record_changes

pytestmark = pytest.mark.django_db


def usage(account, day, kind="sms", cost="1.00", count=1, currency="SEK"):
    record_changes(
        [
            UsageDelta(
                UsageKey(account.tenant_id, account.pk, None, kind, "outbound", day, currency),
                count=count,
                cost=Decimal(cost),
            )
        ]
    )


def test_statement_totals_per_currency_for_the_month_only(tenant_a, account_a):
    usage(account_a, date(2026, 10, 31), cost="100")
    usage(account_a, date(2026, 11, 1), cost="1.50", count=3)
    usage(account_a, date(2026, 11, 30), kind="call", cost="2.25")
    usage(account_a, date(2026, 11, 5), cost="4", currency="EUR")
    statement = build_statement(tenant_a, 2026, 11)
    assert statement.totals == {
        "SEK": {"cost": Decimal("3.75"), "billed": Decimal("3.75")},
        "EUR": {"cost": Decimal("4"), "billed": Decimal("4.00")},
    }
    assert {(line.kind, line.currency, line.count) for line in statement.lines} == {
        ("sms", "SEK", 3),
        ("call", "SEK", 1),
        ("sms", "EUR", 1),
    }


def test_markup_is_added_to_billed_amounts(tenant_a, account_a):
    BillingSettings.objects.create(tenant=tenant_a, markup_percent=Decimal("10"))
    usage(account_a, date(2026, 11, 2), cost="2.00")
    assert build_statement(tenant_a, 2026, 11).totals["SEK"]["billed"] == Decimal("2.20")


def test_statement_never_includes_another_tenant(tenant_a, account_b):
    usage(account_b, date(2026, 11, 2), cost="9")
    assert build_statement(tenant_a, 2026, 11).lines == []


def test_csv_export_has_a_header_lines_and_totals(tenant_a, account_a):
    usage(account_a, date(2026, 11, 2), cost="2.00")
    rows = list(statement_csv_rows(build_statement(tenant_a, 2026, 11)))
    assert rows[0].startswith("month,provider_account")
    assert rows[-1].startswith("2026-11,TOTAL")
    assert len(rows) == 3
