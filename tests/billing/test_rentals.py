from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.models import DailyUsage, NumberRental
from billing.rentals import charge_number_rentals
from numbers.models import PhoneNumber

pytestmark = pytest.mark.django_db

NOV = datetime(2026, 11, 15, tzinfo=UTC)


def number(account, remote_id, cost="25.00", active=True):
    return PhoneNumber.objects.create(
        tenant=account.tenant,
        provider_account=account,
        remote_id=remote_id,
        number=f"+4670000{remote_id}",
        active=active,
        monthly_cost=Decimal(cost),
        currency="SEK",
    )


def test_each_active_number_is_charged_once_a_month(tenant_a, account_a):
    number(account_a, "1")
    number(account_a, "2", cost="30")
    number(account_a, "3", active=False)
    assert charge_number_rentals(tenant_a, NOV) == 2
    assert charge_number_rentals(tenant_a, NOV) == 0
    row = DailyUsage.objects.for_tenant(tenant_a).get(kind="number")
    assert (row.count, row.cost, str(row.day)) == (2, Decimal("55.00"), "2026-11-01")


def test_a_new_month_charges_again(tenant_a, account_a):
    number(account_a, "1")
    charge_number_rentals(tenant_a, NOV)
    charge_number_rentals(tenant_a, datetime(2026, 12, 2, tzinfo=UTC))
    assert NumberRental.objects.for_tenant(tenant_a).count() == 2


def test_rentals_never_charge_another_tenants_numbers(tenant_a, account_b):
    number(account_b, "9")
    assert charge_number_rentals(tenant_a, NOV) == 0
