"""numbers.importers.upsert_numbers: one statement per page, idempotent, our note kept."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from numbers.importers import upsert_numbers
from numbers.models import PhoneNumber
from providers.adapters.records import RemoteNumber
from providers.ingest import UpsertResult, importer_for
from providers.models import ProviderAccount


def remote(i: int, **fields) -> RemoteNumber:
    values = {
        "remote_id": f"n{i}",
        "number": f"+4670000{i:04d}",
        "country": "se",
        "capabilities": ["voice", "sms"],
        "category": "mobile",
        "sms_url": "https://hooks.test/sms",
        "allocated_at": datetime(2024, 1, i % 28 + 1, tzinfo=UTC),
        "cost": Decimal("15.0000"),
        "currency": "SEK",
        "raw": {"id": f"n{i}", "number": f"+4670000{i:04d}"},
    }
    values.update(fields)
    return RemoteNumber(**values)


def test_registered_as_the_numbers_importer():
    assert importer_for("numbers") is upsert_numbers


def test_first_import_creates_rows_with_the_records_fields(account_a):
    result = upsert_numbers(account_a, [remote(1), remote(2)])

    assert result == UpsertResult(created=2, updated=0)
    number = PhoneNumber.objects.for_tenant(account_a.tenant).get(remote_id="n1")
    assert number.number == "+46700000001"
    assert number.country == "SE"
    assert number.capabilities == ["sms", "voice"]
    assert number.monthly_cost == Decimal("15.0000") and number.currency == "SEK"
    assert number.provider_account == account_a and number.subaccount is None
    assert number.raw["id"] == "n1"


def test_rerun_changes_nothing(account_a):
    records = [remote(i) for i in range(1, 6)]
    upsert_numbers(account_a, records)
    before = list(PhoneNumber.objects.order_by("id").values())

    result = upsert_numbers(account_a, records)

    assert result == UpsertResult(created=0, updated=5)
    after = list(PhoneNumber.objects.order_by("id").values())
    assert [{**r, "updated_at": None} for r in after] == [{**r, "updated_at": None} for r in before]


def test_sync_never_overwrites_purpose(account_a):
    upsert_numbers(account_a, [remote(1)])
    PhoneNumber.objects.filter(remote_id="n1").update(purpose="Support line")

    upsert_numbers(account_a, [remote(1, name="renamed at provider")])

    number = PhoneNumber.objects.get(remote_id="n1")
    assert number.purpose == "Support line"
    assert number.name == "renamed at provider"


def test_numbers_missing_from_a_listing_are_kept(account_a):
    upsert_numbers(account_a, [remote(1), remote(2)])

    upsert_numbers(account_a, [remote(1)])

    assert PhoneNumber.objects.count() == 2


def test_released_number_is_kept_inactive(account_a):
    upsert_numbers(account_a, [remote(1)])

    upsert_numbers(account_a, [remote(1, active=False)])

    assert PhoneNumber.objects.get(remote_id="n1").active is False


def test_unknown_cost_does_not_erase_a_known_one(account_a):
    upsert_numbers(account_a, [remote(1)])

    upsert_numbers(account_a, [remote(1, cost=None, currency="")])

    number = PhoneNumber.objects.get(remote_id="n1")
    assert (number.monthly_cost, number.currency) == (Decimal("15.0000"), "SEK")


def test_same_remote_id_at_another_tenant_is_another_row(account_a, account_b):
    upsert_numbers(account_a, [remote(1)])
    upsert_numbers(account_b, [remote(1)])

    assert PhoneNumber.objects.for_tenant(account_a.tenant).count() == 1
    assert PhoneNumber.objects.for_tenant(account_b.tenant).count() == 1


def test_numbers_of_a_subaccount_hang_off_the_root(account_a):
    child = ProviderAccount(
        tenant=account_a.tenant, provider="46elks", name="child", parent=account_a, remote_account_id="sub1"
    )
    child.set_credentials({"username": "sub1", "password": "x"})
    child.save()

    upsert_numbers(child, [remote(1)])
    upsert_numbers(account_a, [remote(2, subaccount_remote_id="sub1")])

    rows = PhoneNumber.objects.order_by("remote_id")
    assert [(n.provider_account_id, n.subaccount_id) for n in rows] == [
        (account_a.pk, child.pk),
        (account_a.pk, child.pk),
    ]


def test_duplicate_remote_ids_in_one_page_are_written_once(account_a):
    result = upsert_numbers(account_a, [remote(1, name="old"), remote(1, name="new")])

    assert result.created == 1
    assert PhoneNumber.objects.get().name == "new"


def test_a_page_is_one_bounded_batch_of_queries(account_a, django_assert_max_num_queries):
    records = [remote(i) for i in range(200)]
    with django_assert_max_num_queries(4):
        upsert_numbers(account_a, records)
    assert PhoneNumber.objects.count() == 200
