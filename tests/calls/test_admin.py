"""The operators' admin for numbers, calls and recordings loads and exports."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calls.importers import upsert_calls, upsert_recordings
from calls.models import Call, Recording
from numbers.importers import upsert_numbers
from numbers.models import PhoneNumber
from providers.adapters.records import RemoteNumber

from .factories import call, recording


@pytest.fixture
def rows(account_a, account_b):
    for account in (account_a, account_b):
        upsert_numbers(account, [RemoteNumber(remote_id="n1", number="+46700000001", capabilities=["sms"])])
        upsert_calls(account, [call(1), call(2)])
        upsert_recordings(account, [recording(1)])


@pytest.mark.parametrize("model", [PhoneNumber, Call, Recording])
def test_changelist_lists_every_tenant_for_staff(login, staff, rows, model):
    response = login(staff).get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == model.objects.count() > 1


@pytest.mark.parametrize(
    "model,query",
    [
        (PhoneNumber, "?active__exact=1&q=%2B46700000001"),
        (Call, "?state__exact=completed&direction__exact=outbound"),
    ],
)
def test_changelist_filters_and_search(login, staff, rows, model, query):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") + query

    response = login(staff).get(url)

    assert response.status_code == 200 and len(response.context["cl"].result_list) == 2 * (
        1 + (model is Call)
    )


@pytest.mark.parametrize("model", [PhoneNumber, Call, Recording])
def test_change_page_loads_for_staff(login, staff, rows, model):
    obj = model.objects.first()

    response = login(staff).get(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    )

    assert response.status_code == 200


def test_call_change_page_shows_its_legs(login, staff, rows):
    obj = Call.objects.first()

    response = login(staff).get(reverse("admin:calls_call_change", args=[obj.pk]))

    assert b"+46701110001" in response.content and b"+46701110002" in response.content


def test_tenant_members_cannot_open_the_admin(login, owner_a, rows):
    response = login(owner_a).get(reverse("admin:calls_call_changelist"))

    assert response.status_code == 302


def test_export_csv_streams_the_selected_calls(login, staff, rows):
    ids = list(Call.objects.values_list("pk", flat=True))

    response = login(staff).post(
        reverse("admin:calls_call_changelist"), {"action": "export_csv", "_selected_action": ids}
    )

    assert response.status_code == 200 and response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,tenant,provider")
    assert len(lines) == 1 + len(ids)
    assert "+46700000001" in lines[1]  # phone numbers are not mangled as formulas


def test_export_csv_of_numbers(login, staff, rows):
    ids = list(PhoneNumber.objects.values_list("pk", flat=True))

    response = login(staff).post(
        reverse("admin:numbers_phonenumber_changelist"), {"action": "export_csv", "_selected_action": ids}
    )

    assert len(b"".join(response.streaming_content).decode().splitlines()) == 1 + len(ids)


def test_purpose_is_editable_and_synced_fields_are_not(login, staff, rows):
    number = PhoneNumber.objects.first()
    url = reverse("admin:numbers_phonenumber_change", args=[number.pk])

    response = login(staff).post(url, {"purpose": "Support line", "number": "+4600000000"})

    assert response.status_code == 302
    number.refresh_from_db()
    assert (number.purpose, number.number) == ("Support line", "+46700000001")
