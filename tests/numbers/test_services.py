"""numbers.services against the provider sandbox: allocate, configure, route to Switchboard and
release go through the provider, then land in our table with an audit entry."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditLog
from numbers import services
from numbers.importers import upsert_numbers
from numbers.models import PhoneNumber
from providers.adapters.errors import AuthFailed, NotSupported, Rejected, Unavailable
from providers.adapters.records import NumberConfig
from providers.connect import open_adapter


@pytest.fixture
def elks(tenant_a, sandbox_account):
    return sandbox_account(tenant_a, "46elks", seed=1, size=5)


@pytest.fixture
def sim_numbers(sandbox):
    """sim_numbers(account) -> the sandbox twin's numbers by remote id."""

    def get(account):
        return sandbox.find_account("46elks", **account.credentials).state["numbers"]

    return get


@pytest.fixture
def held(elks):
    """A number of the 46elks account, imported from the sandbox as a sync would."""
    with open_adapter(elks, record=False) as adapter:
        record = next(n for n in adapter.list_numbers(None).items if n.active)
    upsert_numbers(elks, [record])
    return PhoneNumber.objects.get(provider_account=elks, remote_id=record.remote_id)


def actions(tenant) -> list[str]:
    return list(AuditLog.objects.filter(tenant=tenant).values_list("action", flat=True))


# -- allocate -----------------------------------------------------------------------------------
def test_an_allocated_number_is_ours_and_the_providers(tenant_a, owner_a, elks, sim_numbers):
    number = services.allocate_number(tenant_a, elks, "se", ["sms", "voice"], created_by=owner_a)

    assert number.tenant == tenant_a and number.provider_account == elks and number.active
    assert number.number.startswith("+46") and number.country == "SE"
    assert sim_numbers(elks)[number.remote_id]["number"] == number.number
    assert actions(tenant_a) == ["number.allocate"]


def test_allocating_where_the_provider_has_no_numbers_says_so(tenant_a, elks):
    with pytest.raises(Rejected, match=r"^46elks refused allocating a number: No numbers available"):
        services.allocate_number(tenant_a, elks, "AQ", ["sms"])

    assert not PhoneNumber.objects.exists() and actions(tenant_a) == []


def test_allocate_validates_country_and_capabilities_before_asking(tenant_a, elks, sandbox):
    with pytest.raises(ValidationError) as caught:
        services.allocate_number(tenant_a, elks, "Sweden", ["fax"])

    assert set(caught.value.message_dict) == {"country", "capabilities"}
    assert sandbox.ledger.entries(provider="46elks", endpoint="POST /a1/numbers") == []


def test_allocate_at_another_tenants_account_is_refused(tenant_b, elks):
    with pytest.raises(ValidationError):
        services.allocate_number(tenant_b, elks, "SE", ["sms"])


def test_sipcentric_cannot_allocate(tenant_a, sandbox_account, sandbox):
    account = sandbox_account(tenant_a, "sipcentric", seed=1, size=5)
    sandbox.ledger.clear()

    with pytest.raises(NotSupported, match="Sipcentric does not support allocating numbers"):
        services.allocate_number(tenant_a, account, "GB", ["voice"])

    assert sandbox.ledger.count() == 0


# -- configure ----------------------------------------------------------------------------------
def test_configured_urls_reach_the_provider_and_our_row(held, elks, sim_numbers):
    config = NumberConfig(sms_url="https://example.com/sms", voice_url="https://example.com/voice")

    number = services.configure_number(held, config)

    sim = sim_numbers(elks)[held.remote_id]
    assert (sim["sms_url"], sim["voice_start"]) == ("https://example.com/sms", "https://example.com/voice")
    assert (number.sms_url, number.voice_url) == ("https://example.com/sms", "https://example.com/voice")


def test_an_empty_value_clears_and_a_missing_one_is_left_alone(held, elks, sim_numbers):
    services.configure_number(held, NumberConfig(sms_url="https://example.com/sms", name="Support"))

    number = services.configure_number(held, NumberConfig(sms_url=""))

    assert number.sms_url == "" and sim_numbers(elks)[held.remote_id].get("sms_url") is None
    assert number.name == "Support"


def test_configure_refuses_a_url_that_is_not_http(held, sandbox):
    sandbox.ledger.clear()

    with pytest.raises(ValidationError) as caught:
        services.configure_number(held, NumberConfig(sms_url="ftp://example.com/x"))

    assert list(caught.value.message_dict) == ["sms_url"] and sandbox.ledger.count() == 0


def test_configure_records_the_changed_fields(tenant_a, owner_a, held):
    services.configure_number(held, NumberConfig(name="Sales"), actor=owner_a)

    entry = AuditLog.objects.get(tenant=tenant_a, action="number.configure")
    assert entry.actor == owner_a and entry.data == {"fields": ["name"]}


def test_route_to_switchboard_sets_the_accounts_webhook_urls(held, elks, sim_numbers):
    number = services.route_to_switchboard(held)

    assert (number.sms_url, number.mms_url, number.voice_url) == (
        elks.webhook_url("sms"),
        elks.webhook_url("mms"),
        elks.webhook_url("voice"),
    )
    assert sim_numbers(elks)[held.remote_id]["voice_start"] == elks.webhook_url("voice")


# -- release ------------------------------------------------------------------------------------
def test_a_released_number_stays_listed_inactive(tenant_a, held, elks, sim_numbers):
    number = services.release_number(held)

    assert not number.active and PhoneNumber.objects.filter(pk=held.pk).exists()
    assert sim_numbers(elks)[held.remote_id]["active"] == "no"
    assert actions(tenant_a) == ["number.release"]


def test_releasing_twice_asks_the_provider_once(held, sandbox):
    services.release_number(held)
    sandbox.ledger.clear()

    services.release_number(PhoneNumber.objects.get(pk=held.pk))

    assert sandbox.ledger.count() == 0


def test_a_released_number_cannot_be_configured(held):
    released = services.release_number(held)

    with pytest.raises(ValidationError, match="released"):
        services.configure_number(released, NumberConfig(name="x"))


# -- provider errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ({"kind": "error", "status": 503}, Unavailable, "46elks did not answer while releasing the number"),
        ({"kind": "error", "status": 401}, AuthFailed, "46elks refused the account's credentials"),
    ],
)
def test_provider_errors_say_what_failed(held, sandbox, fault, error, message):
    sandbox.faults.add(provider="46elks", endpoint="POST /a1/numbers/*", count=100, **fault)

    with pytest.raises(error, match=f"^{message}"):
        services.release_number(held)

    held.refresh_from_db()
    assert held.active
