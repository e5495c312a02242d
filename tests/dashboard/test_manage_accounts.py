"""Managing provider accounts in the dashboard: edit, replace credentials, enable/disable,
delete with confirmation, and subaccounts created or changed at the provider."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import TestCase
from django.urls import reverse

from accounts.models import AuditLog
from providers.models import ProviderAccount
from tests.api import factories as f

pytestmark = pytest.mark.django_db


def url(name: str, tenant, *args) -> str:
    return reverse(name, args=[tenant.slug, *args])


def edit_data(account: ProviderAccount, **changes) -> dict:
    data = {
        "name": account.name,
        "base_url": account.base_url,
        "sync_enabled": "on",
        "sync_interval": account.sync_interval,
        "send_rate": account.send_rate,
    }
    return {**data, **changes}


# -- edit --------------------------------------------------------------------------------------
def test_edit_saves_settings_and_keeps_credentials_left_empty(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a)
    before = account.credentials
    response = login(owner_a).post(
        url("provider-edit", tenant_a, account.pk), edit_data(account, name="Elks EU", sync_interval=60)
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.sync_interval, account.credentials) == ("Elks EU", 60, before)


def test_edit_shows_only_the_providers_credential_fields(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a, "callr")
    html = login(owner_a).get(url("provider-edit", tenant_a, account.pk)).content.decode()
    assert 'name="api_key"' in html and 'name="login"' in html
    assert 'name="username"' not in html and 'name="account_sid"' not in html


def test_edit_replaces_credentials_with_a_complete_set(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a)
    login(owner_a).post(
        url("provider-edit", tenant_a, account.pk), edit_data(account, username="u2", password="p2")
    )
    account.refresh_from_db()
    assert account.credentials == {"username": "u2", "password": "p2"}
    assert AuditLog.objects.for_tenant(tenant_a).get(action="provider_account.update").data == {
        "fields": ["credentials"]
    }


def test_edit_with_half_the_credentials_is_refused_without_echoing_them(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a)
    before = account.credentials
    response = login(owner_a).post(
        url("provider-edit", tenant_a, account.pk), edit_data(account, password="half-secret-xyz")
    )
    assert response.status_code == 400
    assert "half-secret-xyz" not in response.content.decode()
    account.refresh_from_db()
    assert account.credentials == before


def test_edit_refuses_a_private_base_url_under_the_field(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a)
    response = login(owner_a).post(
        url("provider-edit", tenant_a, account.pk), edit_data(account, base_url="https://10.0.0.7/a1")
    )
    assert response.status_code == 400
    assert response.context["form"].errors["base_url"]
    assert ProviderAccount.objects.get(pk=account.pk).base_url == ""


@pytest.mark.parametrize("name", ["provider-edit", "provider-delete", "subaccount-create"])
def test_members_cannot_open_management_pages(name, login, member_a, tenant_a):
    account = f.provider_account(tenant_a)
    assert login(member_a).get(url(name, tenant_a, account.pk)).status_code == 403


def test_detail_hides_management_from_members(login, member_a, tenant_a):
    account = f.provider_account(tenant_a)
    html = login(member_a).get(url("provider-account", tenant_a, account.pk)).content.decode()
    assert url("provider-edit", tenant_a, account.pk) not in html
    assert url("provider-delete", tenant_a, account.pk) not in html


# -- enable / disable --------------------------------------------------------------------------
def test_disabled_account_is_marked_and_offers_enable_not_sync(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a)
    client = login(owner_a)
    client.post(url("provider-disable", tenant_a, account.pk))
    html = client.get(url("provider-account", tenant_a, account.pk)).content.decode()
    assert 'class="badge a-disabled"' in html
    assert url("provider-enable", tenant_a, account.pk) in html
    assert url("provider-sync", tenant_a, account.pk) not in html


def test_enable_brings_a_disabled_account_back(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a, status=ProviderAccount.Status.DISABLED)
    login(owner_a).post(url("provider-enable", tenant_a, account.pk))
    assert ProviderAccount.objects.get(pk=account.pk).status == ProviderAccount.Status.ACTIVE


# -- delete ------------------------------------------------------------------------------------
def test_delete_asks_first_and_says_what_goes_with_it(login, owner_a, tenant_a):
    account = f.root_account(tenant_a)
    f.message(tenant_a)
    response = login(owner_a).get(url("provider-delete", tenant_a, account.pk))
    assert "1 message</li>" in response.content.decode()
    assert ProviderAccount.objects.filter(pk=account.pk).exists()


def test_delete_confirmed_deletes_in_the_background(login, owner_a, tenant_a, monkeypatch):
    from providers import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.delete_account_task, "delay", queued.append)
    account = f.root_account(tenant_a)
    f.message(tenant_a)
    client = login(owner_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url("provider-delete", tenant_a, account.pk))
    assert response["Location"] == url("provider-accounts", tenant_a)
    assert queued == [account.pk]
    assert ProviderAccount.objects.get(pk=account.pk).status == ProviderAccount.Status.DELETING
    page = client.get(response["Location"]).content.decode()
    assert f"Deleting {account.name} and everything synced through it in the background." in page
    assert "Deleting…</span>" in page


def test_a_deleting_account_offers_no_actions(login, owner_a, tenant_a):
    account = f.provider_account(tenant_a, status=ProviderAccount.Status.DELETING)
    html = login(owner_a).get(url("provider-account", tenant_a, account.pk)).content.decode()
    assert "Deleting in the background" in html
    assert url("provider-sync", tenant_a, account.pk) not in html
    assert url("provider-delete", tenant_a, account.pk) not in html


# -- subaccounts -------------------------------------------------------------------------------
def test_subaccount_created_at_46elks_appears_on_its_parent(login, owner_a, tenant_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=3)
    client = login(owner_a)
    response = client.post(
        url("subaccount-create", tenant_a, parent.pk), {"name": "Shop", "usage_limit": "40"}
    )
    assert response.status_code == 302
    child = parent.subaccounts.get()
    assert (child.name, child.usage_limit) == ("Shop", Decimal("40"))
    assert "Shop" in client.get(url("provider-account", tenant_a, parent.pk)).content.decode()


def test_subaccount_renamed_at_46elks(login, owner_a, tenant_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=3)
    client = login(owner_a)
    client.post(url("subaccount-create", tenant_a, parent.pk), {"name": "Shop"})
    child = parent.subaccounts.get()
    client.post(url("subaccount-edit", tenant_a, child.pk), {"name": "Shop North", "usage_limit": ""})
    assert ProviderAccount.objects.get(pk=child.pk).name == "Shop North"


def test_subaccount_refused_by_the_provider_shows_its_message(login, owner_a, tenant_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=3)
    unknown = f.provider_account(tenant_a, parent=parent, remote_account_id="not-at-46elks", name="Ghost")
    response = login(owner_a).post(url("subaccount-edit", tenant_a, unknown.pk), {"name": "Renamed"})
    assert response.status_code == 400
    assert "Subaccount not found" in response.content.decode()
    assert ProviderAccount.objects.get(pk=unknown.pk).name == "Ghost"


def test_subaccount_pages_are_hidden_where_the_provider_has_none(login, owner_a, tenant_a):
    parent = f.provider_account(tenant_a, "sipcentric")
    client = login(owner_a)
    html = client.get(url("provider-account", tenant_a, parent.pk)).content.decode()
    assert url("subaccount-create", tenant_a, parent.pk) not in html
    assert client.get(url("subaccount-create", tenant_a, parent.pk)).status_code == 404
