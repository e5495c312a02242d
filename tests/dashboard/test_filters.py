"""Every list filter works from the page as a browser submits it: selects left at "Any"
send empty values, which mean "any" (never "Select a valid choice"), and real values
narrow the list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.api import factories as f

pytestmark = pytest.mark.django_db

# What pressing "Filter" sends with every field left alone.
MESSAGE_DEFAULTS = {
    "q": "", "provider_account": "", "number": "", "direction": "", "status": "", "kind": "",
    "since": "", "until": "",
}  # fmt: skip
CALL_DEFAULTS = {
    "q": "", "provider_account": "", "number": "", "direction": "", "state": "", "since": "", "until": "",
}  # fmt: skip


def test_message_filter_with_every_field_at_any_lists_everything(login, member_a, tenant_a):
    f.message(tenant_a, body="first")
    f.message(tenant_a, body="second")

    response = login(member_a).get(reverse("messages", args=[tenant_a.slug]), MESSAGE_DEFAULTS)

    page = response.content.decode()
    assert response.status_code == 200
    assert "first" in page and "second" in page
    assert "Select a valid choice" not in page


def test_message_filter_by_status_narrows_the_list(login, member_a, tenant_a):
    f.message(tenant_a, body="went through", status="delivered")
    f.message(tenant_a, body="did not", status="failed")

    page = login(member_a).get(
        reverse("messages", args=[tenant_a.slug]), {**MESSAGE_DEFAULTS, "status": "failed"}
    ).content.decode()

    assert "did not" in page and "went through" not in page


def test_message_filter_by_account_and_text(login, member_a, tenant_a):
    account = f.root_account(tenant_a)
    f.message(tenant_a, body="parcel shipped")
    f.message(tenant_a, body="invoice due")

    page = login(member_a).get(
        reverse("messages", args=[tenant_a.slug]),
        {**MESSAGE_DEFAULTS, "provider_account": account.pk, "q": "parcel"},
    ).content.decode()

    assert "parcel shipped" in page and "invoice due" not in page


def test_message_filter_selects_read_any_not_dashes(login, member_a, tenant_a):
    page = login(member_a).get(reverse("messages", args=[tenant_a.slug])).content.decode()

    assert "---------" not in page
    assert '<option value="" selected>Any</option>' in page


def test_call_filter_with_every_field_at_any_lists_everything(login, member_a, tenant_a):
    f.call(tenant_a, to_number="+46731110001")

    response = login(member_a).get(reverse("calls", args=[tenant_a.slug]), CALL_DEFAULTS)

    page = response.content.decode()
    assert response.status_code == 200 and "+46731110001" in page
    assert "Select a valid choice" not in page and "---------" not in page


def test_call_filter_by_state_narrows_the_list(login, member_a, tenant_a):
    f.call(tenant_a, to_number="+46731110002", state="completed")
    f.call(tenant_a, to_number="+46731110003", state="busy")

    page = login(member_a).get(
        reverse("calls", args=[tenant_a.slug]), {**CALL_DEFAULTS, "state": "busy"}
    ).content.decode()

    assert "+46731110003" in page and "+46731110002" not in page


def test_text_search_says_it_covers_recent_history_only(login, member_a, tenant_a):
    page = login(member_a).get(
        reverse("messages", args=[tenant_a.slug]), {**MESSAGE_DEFAULTS, "q": "invoice"}
    ).content.decode()

    assert "last 30 days" in page
