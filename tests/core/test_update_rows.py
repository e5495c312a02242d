"""core.db.update_rows: bulk_update's result in one statement."""

from __future__ import annotations

import pytest

from accounts.models import Tenant
from core.db import update_rows

pytestmark = pytest.mark.django_db


def _tenants(n: int) -> list[Tenant]:
    return [Tenant.objects.create(name=f"T{i}", slug=f"update-rows-{i}") for i in range(n)]


def test_the_named_fields_of_the_given_rows_are_written():
    first, second, untouched = _tenants(3)
    first.name, first.active = "First", False
    second.name, second.timezone = "Second", "Europe/Oslo"
    assert update_rows(Tenant, [first, second], ["name", "active"]) == 2
    rows = Tenant.objects.filter(slug__startswith="update-rows-")
    values = {t.pk: (t.name, t.active, t.timezone) for t in rows}
    assert values[first.pk] == ("First", False, first.timezone)
    assert values[second.pk] == ("Second", True, Tenant._meta.get_field("timezone").default)  # not named
    assert values[untouched.pk] == ("T2", True, untouched.timezone)


def test_no_rows_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert update_rows(Tenant, [], ["name"]) == 0
