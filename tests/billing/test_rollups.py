from datetime import date
from decimal import Decimal

import pytest

from billing.models import DailyUsage
from billing.usage import UsageDelta, UsageKey, record_changes

pytestmark = pytest.mark.django_db


def key(account, day=date(2026, 11, 1), sub=None, currency="SEK"):
    return UsageKey(account.tenant_id, account.pk, sub, "sms", "outbound", day, currency)


def test_deltas_accumulate_into_one_row(account_a):
    record_changes([UsageDelta(key(account_a), count=1, parts=2, cost=Decimal("0.70"))])
    record_changes([UsageDelta(key(account_a), count=1, parts=1, cost=Decimal("0.35"))])
    row = DailyUsage.objects.for_tenant(account_a.tenant).get()
    assert (row.count, row.parts, row.cost) == (2, 3, Decimal("1.05"))


def test_rows_without_a_subaccount_share_one_key(account_a):
    record_changes([UsageDelta(key(account_a), count=1)])
    record_changes([UsageDelta(key(account_a), count=1)])
    assert DailyUsage.objects.count() == 1


def test_negative_deltas_move_usage_between_keys(account_a):
    record_changes([UsageDelta(key(account_a, currency=""), count=1)])
    record_changes(
        [
            UsageDelta(key(account_a, currency=""), count=-1),
            UsageDelta(key(account_a, currency="SEK"), count=1, cost=Decimal("0.35")),
        ]
    )
    rows = {r.currency: r.count for r in DailyUsage.objects.all()}
    assert rows == {"": 0, "SEK": 1}


def test_deltas_that_cancel_out_write_nothing(account_a):
    n = record_changes([UsageDelta(key(account_a), count=1), UsageDelta(key(account_a), count=-1)])
    assert n == 0 and not DailyUsage.objects.exists()
