"""subaccounts: created and changed at the provider, then stored through the importer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditLog
from providers.models import ProviderAccount

from .factories import provider_account, subaccount
from .helpers import ids

pytestmark = pytest.mark.django_db

URL = "/api/v1/subaccounts/"


def test_create_at_46elks(api_a, tenant_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=5)
    response = api_a.post(URL, {"parent": parent.pk, "name": "Shop", "usage_limit": "250"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["parent"], body["name"], body["usage_limit"]) == (parent.pk, "Shop", "250.0000")
    child = ProviderAccount.objects.for_tenant(tenant_a).get(pk=body["id"])
    assert child.parent_id == parent.pk and child.remote_account_id
    assert AuditLog.objects.for_tenant(tenant_a).filter(action="subaccount.create").exists()


def test_update_limit_at_46elks(api_a, tenant_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=5)
    child_id = api_a.post(URL, {"parent": parent.pk, "name": "Shop"}, format="json").json()["id"]
    response = api_a.patch(f"{URL}{child_id}/", {"usage_limit": "12.5"}, format="json")
    assert response.status_code == 200, response.json()
    assert ProviderAccount.objects.get(pk=child_id).usage_limit == Decimal("12.5")


def test_provider_without_subaccount_creation_is_422(api_a, tenant_a):
    parent = provider_account(tenant_a, "sipcentric")
    response = api_a.post(URL, {"parent": parent.pk, "name": "Shop"}, format="json")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "not_supported",
        "message": "Sipcentric does not support creating subaccounts.",
    }


def test_parent_must_be_a_root_account_of_the_tenant(api_a, tenant_a, tenant_b):
    child = subaccount(tenant_a)
    foreign = provider_account(tenant_b)
    for parent in (child.pk, foreign.pk):
        response = api_a.post(URL, {"parent": parent, "name": "x"}, format="json")
        assert response.status_code == 400
        assert "parent" in response.json()["error"]["fields"]


def test_list_holds_only_subaccounts(api_a, tenant_a):
    child = subaccount(tenant_a)
    assert ids(api_a.get(URL)) == {child.pk}
