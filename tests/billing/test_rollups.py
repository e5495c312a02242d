from datetime import date
from decimal import Decimal

import pytest

from billing import ledger
from billing.models import DailyUsage, UsageEntry
from billing.tasks import fold_usage
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
    assert DailyUsage.objects.for_tenant(account_a.tenant).count() == 1


def test_negative_deltas_move_usage_between_keys(account_a):
    record_changes([UsageDelta(key(account_a, currency=""), count=1)])
    record_changes(
        [
            UsageDelta(key(account_a, currency=""), count=-1),
            UsageDelta(key(account_a, currency="SEK"), count=1, cost=Decimal("0.35")),
        ]
    )
    rows = {r.currency: r.count for r in DailyUsage.objects.for_tenant(account_a.tenant)}
    assert rows == {"SEK": 1}  # the unpriced key nets to nothing and is never written


def test_deltas_that_cancel_out_write_nothing(account_a):
    n = record_changes([UsageDelta(key(account_a), count=1), UsageDelta(key(account_a), count=-1)])
    assert n == 0 and not DailyUsage.objects.for_tenant(account_a.tenant).exists()


def test_sends_append_to_the_ledger_and_leave_rollups_alone(account_a):
    record_changes([UsageDelta(key(account_a), count=1)])
    assert UsageEntry.objects.filter(tenant=account_a.tenant).count() == 1
    assert not DailyUsage.objects.filter(tenant=account_a.tenant).exists()  # a raw read: not folded yet


def test_a_tenant_read_folds_the_ledger_first(account_a):
    record_changes([UsageDelta(key(account_a), count=1, cost=Decimal("0.35"))])
    row = DailyUsage.objects.for_tenant(account_a.tenant).get()
    assert (row.count, row.cost) == (1, Decimal("0.35"))
    assert not UsageEntry.objects.filter(tenant=account_a.tenant).exists()


def test_folding_counts_each_entry_once(account_a):
    record_changes([UsageDelta(key(account_a), count=1)])
    ledger.fold_all(account_a.tenant_id)
    ledger.fold_all(account_a.tenant_id)
    assert DailyUsage.objects.for_tenant(account_a.tenant).get().count == 1


def test_the_beat_folder_folds_every_tenant(account_a, account_b):
    record_changes([UsageDelta(key(account_a), count=1), UsageDelta(key(account_b), count=2)])
    fold_usage()
    assert ledger.pending_entries() == 0
    assert sorted(DailyUsage.objects.values_list("count", flat=True)) == [1, 2]
