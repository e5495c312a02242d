"""numbers: allocate, configure, route to Switchboard and release through the API (46elks
sandbox); 422 where the provider cannot; manage scope; another tenant's number is a 404."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog
from numbers.importers import upsert_numbers
from numbers.models import PhoneNumber
from providers.connect import open_adapter

from .factories import phone_number, provider_account

pytestmark = pytest.mark.django_db

URL = "/api/v1/numbers/"
ACTIONS = ("configure", "route-to-switchboard", "release")


@pytest.fixture
def elks(tenant_a, sandbox_account):
    return sandbox_account(tenant_a, "46elks", seed=1, size=5)


@pytest.fixture
def held(elks) -> PhoneNumber:
    with open_adapter(elks, record=False) as adapter:
        record = next(n for n in adapter.list_numbers(None).items if n.active)
    upsert_numbers(elks, [record])
    return PhoneNumber.objects.get(provider_account=elks, remote_id=record.remote_id)


def sim_number(sandbox, account, remote_id: str) -> dict:
    return sandbox.find_account("46elks", **account.credentials).state["numbers"][remote_id]


def test_allocate_answers_201_with_the_stored_number(api_a, tenant_a, elks, sandbox):
    response = api_a.post(
        URL, {"provider_account": elks.pk, "country": "SE", "capabilities": ["sms"]}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    number = PhoneNumber.objects.for_tenant(tenant_a).get(pk=body["id"])
    assert (body["number"], body["active"], body["capabilities"]) == (number.number, True, ["sms"])
    assert sim_number(sandbox, elks, number.remote_id)["number"] == number.number
    entry = AuditLog.objects.for_tenant(tenant_a).get(action="number.allocate")
    assert entry.api_key is not None


def test_allocate_where_the_provider_cannot_is_422(api_a, tenant_a):
    account = provider_account(tenant_a, "sipcentric")

    response = api_a.post(URL, {"provider_account": account.pk, "country": "GB"}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_supported"


def test_allocate_refused_by_the_provider_is_422_with_its_reason(api_a, elks):
    response = api_a.post(URL, {"provider_account": elks.pk, "country": "AQ"}, format="json")

    assert response.status_code == 422
    assert "No numbers available" in response.json()["error"]["message"]


def test_allocate_at_another_tenants_account_is_400_unknown(api_a, tenant_b):
    theirs = provider_account(tenant_b, "46elks")

    response = api_a.post(URL, {"provider_account": theirs.pk, "country": "SE"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"provider_account": ["Unknown provider account."]}


def test_allocate_with_a_bad_country_is_400_by_field(api_a, elks, sandbox):
    sandbox.ledger.clear()

    response = api_a.post(URL, {"provider_account": elks.pk, "country": "S1"}, format="json")

    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["country"]
    assert sandbox.ledger.count() == 0


def test_configure_sets_and_clears_urls_at_the_provider(api_a, elks, held, sandbox):
    api_a.post(f"{URL}{held.pk}/configure/", {"mms_url": "https://example.com/mms"}, format="json")

    response = api_a.post(
        f"{URL}{held.pk}/configure/", {"sms_url": "https://example.com/sms", "mms_url": ""}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["sms_url"], response.json()["mms_url"]) == ("https://example.com/sms", "")
    sim = sim_number(sandbox, elks, held.remote_id)
    assert (sim["sms_url"], sim.get("mms_url")) == ("https://example.com/sms", None)


def test_configure_without_any_field_is_400(api_a, held):
    response = api_a.post(f"{URL}{held.pk}/configure/", {}, format="json")

    assert response.status_code == 400


def test_route_to_switchboard_points_the_number_at_our_hooks(api_a, elks, held):
    response = api_a.post(f"{URL}{held.pk}/route-to-switchboard/")

    assert response.status_code == 200, response.json()
    assert response.json()["sms_url"] == elks.webhook_url("sms")
    assert response.json()["voice_url"] == elks.webhook_url("voice")


def test_release_leaves_the_number_inactive(api_a, elks, held, sandbox):
    response = api_a.post(f"{URL}{held.pk}/release/")

    assert response.status_code == 200 and response.json()["active"] is False
    assert sim_number(sandbox, elks, held.remote_id)["active"] == "no"


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_where_the_provider_cannot_are_422(api_a, tenant_a, action):
    number = PhoneNumber.objects.create(
        tenant=tenant_a,
        provider_account=provider_account(tenant_a, "sipcentric"),
        remote_id="40",
        number="+441214960001",
    )

    response = api_a.post(f"{URL}{number.pk}/{action}/", {"name": "x"}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_supported"


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_on_another_tenants_number_are_404(api_a, tenant_b, action):
    theirs = phone_number(tenant_b)

    response = api_a.post(f"{URL}{theirs.pk}/{action}/", {"name": "x"}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_the_manage_scope(api, key_with_scopes, held, action, sandbox):
    sandbox.ledger.clear()
    client = api(key_with_scopes("read", "send"))

    response = client.post(f"{URL}{held.pk}/{action}/", {"name": "x"}, format="json")

    assert response.status_code == 403 and sandbox.ledger.count() == 0


def test_allocate_needs_the_manage_scope(api, key_with_scopes, elks):
    client = api(key_with_scopes("read", "send"))

    response = client.post(URL, {"provider_account": elks.pk, "country": "SE"}, format="json")

    assert response.status_code == 403
