from datetime import date
from decimal import Decimal

import pytest

from billing.models import BalanceSnapshot
from billing.usage import UsageDelta, UsageKey, record_changes

pytestmark = pytest.mark.django_db


def usage(account, day, kind="sms", cost="1.00", count=1):
    key = UsageKey(account.tenant_id, account.pk, None, kind, "outbound", day, "SEK")
    record_changes([UsageDelta(key, count=count, cost=Decimal(cost))])


def test_usage_groups_by_kind_over_a_range(api_a, account_a):
    usage(account_a, date(2026, 11, 2), count=2, cost="0.70")
    usage(account_a, date(2026, 11, 3), kind="call", cost="1.20")
    usage(account_a, date(2026, 12, 1), cost="9")
    response = api_a.get("/api/v1/usage/", {"start": "2026-11-01", "end": "2026-11-30", "group_by": "kind"})
    assert response.status_code == 200
    rows = {r["kind"]: (r["count"], r["cost"]) for r in response.json()}
    assert rows == {"sms": (2, "0.7000"), "call": (1, "1.2000")}


def test_usage_by_month(api_a, account_a):
    usage(account_a, date(2026, 10, 2))
    usage(account_a, date(2026, 11, 3))
    response = api_a.get("/api/v1/usage/", {"start": "2026-10-01", "end": "2026-11-30", "group_by": "month"})
    assert [r["month"] for r in response.json()] == ["2026-10", "2026-11"]


def test_usage_refuses_an_unknown_group(api_a):
    response = api_a.get("/api/v1/usage/", {"start": "2026-10-01", "end": "2026-11-30", "group_by": "colour"})
    assert response.status_code == 400
    assert "group_by" in response.json()["error"]["fields"]


def test_usage_never_includes_another_tenant(api_a, account_b):
    usage(account_b, date(2026, 11, 2))
    response = api_a.get("/api/v1/usage/", {"start": "2026-11-01", "end": "2026-11-30"})
    assert response.json() == []


def test_statement_for_a_month(api_a, account_a):
    usage(account_a, date(2026, 11, 2), cost="2.50")
    body = api_a.get("/api/v1/statements/", {"month": "2026-11"}).json()
    assert body[0]["month"] == "2026-11"
    assert body[0]["totals"] == [{"currency": "SEK", "cost": "2.5000", "billed": "2.50"}]


def test_statement_csv_needs_a_month_and_streams(api_a, account_a):
    usage(account_a, date(2026, 11, 2), cost="2.50")
    assert api_a.get("/api/v1/statements/", {"export": "csv"}).status_code == 400
    response = api_a.get("/api/v1/statements/", {"export": "csv", "month": "2026-11"})
    assert response["Content-Type"] == "text/csv"
    assert b"TOTAL" in b"".join(response.streaming_content)


def test_latest_balances_with_forecast(api_a, account_a, tenant_a):
    from django.utils import timezone

    BalanceSnapshot.objects.create(
        tenant=tenant_a,
        provider_account=account_a,
        amount=Decimal("5"),
        currency="SEK",
        taken_at=timezone.now(),
    )
    body = api_a.get("/api/v1/balances/latest/").json()
    assert body[0]["amount"] == "5.0000" and body[0]["days_left"] is None


def test_billing_settings_need_manage_to_change(api, key_with_scopes):
    reader = api(key_with_scopes("read"))
    assert reader.get("/api/v1/billing-settings/current/").status_code == 200
    assert (
        reader.patch("/api/v1/billing-settings/current/", {"markup_percent": "5"}, format="json").status_code
        == 403
    )


def test_spend_cap_needs_a_currency(api_a):
    response = api_a.patch("/api/v1/billing-settings/current/", {"monthly_spend_cap": "100"}, format="json")
    assert response.status_code == 400
    assert "spend_cap_currency" in response.json()["error"]["fields"]
