"""The number page: routing, "Point webhooks at Switchboard" and release go through
numbers.services (46elks sandbox)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from numbers.importers import upsert_numbers
from numbers.models import PhoneNumber
from providers.connect import open_adapter


@pytest.fixture
def held(tenant_a, sandbox_account) -> PhoneNumber:
    account = sandbox_account(tenant_a, "46elks", seed=1, size=5)
    with open_adapter(account, record=False) as adapter:
        record = next(n for n in adapter.list_numbers(None).items if n.active)
    upsert_numbers(account, [record])
    return PhoneNumber.objects.get(provider_account=account, remote_id=record.remote_id)


def page(tenant, number: PhoneNumber) -> str:
    return reverse("number", args=[tenant.slug, number.pk])


def test_the_route_button_points_the_number_at_switchboard(login, owner_a, tenant_a, held):
    client = login(owner_a)
    assert "Point webhooks at Switchboard" in client.get(page(tenant_a, held)).content.decode()

    response = client.post(page(tenant_a, held), {"route": "1"}, follow=True)

    held.refresh_from_db()
    assert held.sms_url == held.provider_account.webhook_url("sms")
    assert held.voice_url == held.provider_account.webhook_url("voice")
    assert "now point at Switchboard" in response.content.decode()


def test_a_viewer_sees_no_route_button(login, viewer_a, tenant_a, held):
    assert "Point webhooks at Switchboard" not in login(viewer_a).get(page(tenant_a, held)).content.decode()


def test_a_refused_routing_shows_the_providers_reason(login, owner_a, tenant_a, held, sandbox):
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/numbers/*", status=503, count=10)

    response = login(owner_a).post(page(tenant_a, held), {"route": "1"}, follow=True)

    assert "46elks did not answer while configuring the number" in response.content.decode()
    held.refresh_from_db()
    assert held.sms_url == ""


def test_release_from_the_dashboard_uses_the_service(login, owner_a, tenant_a, held):
    login(owner_a).post(reverse("number-release", args=[tenant_a.slug, held.pk]))

    held.refresh_from_db()
    assert not held.active
