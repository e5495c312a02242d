"""providers.importers.upsert_subaccounts: subaccounts become child ProviderAccounts."""

from __future__ import annotations

from decimal import Decimal

from providers.adapters.records import RemoteSubaccount
from providers.importers import upsert_subaccounts
from providers.ingest import UpsertResult, importer_for
from providers.models import ProviderAccount
from tests.factories import make_provider_account as make_account


def sub(remote_id: str = "a1b2", **fields) -> RemoteSubaccount:
    values = {
        "remote_id": remote_id,
        "name": f"Customer {remote_id}",
        "usage": Decimal("12.5000"),
        "usage_limit": Decimal("100.0000"),
        "currency": "SEK",
        "credentials": {"username": remote_id, "password": f"secret-{remote_id}"},
        "raw": {"id": remote_id, "name": f"Customer {remote_id}"},
    }
    values.update(fields)
    return RemoteSubaccount(**values)


def test_registered_as_the_subaccounts_importer():
    assert importer_for("subaccounts") is upsert_subaccounts


def test_subaccounts_become_children_with_encrypted_credentials(account_a):
    result = upsert_subaccounts(account_a, [sub("a1"), sub("a2")])

    assert result == UpsertResult(created=2, updated=0)
    child = ProviderAccount.objects.for_tenant(account_a.tenant).get(remote_account_id="a1")
    assert (child.parent, child.provider, child.tenant) == (account_a, "46elks", account_a.tenant)
    assert (child.name, child.usage, child.usage_limit, child.currency) == (
        "Customer a1",
        Decimal("12.5000"),
        Decimal("100.0000"),
        "SEK",
    )
    assert child.credentials == {"username": "a1", "password": "secret-a1"}
    assert "secret-a1" not in child.credentials_encrypted
    assert child.webhook_token != account_a.webhook_token


def test_rerun_updates_in_place(account_a):
    upsert_subaccounts(account_a, [sub("a1")])

    result = upsert_subaccounts(account_a, [sub("a1", name="Renamed", usage=Decimal("20"))])

    assert result == UpsertResult(created=0, updated=1)
    child = ProviderAccount.objects.get(parent=account_a)
    assert (child.name, child.usage) == ("Renamed", Decimal("20"))


def test_a_disabled_subaccount_is_disabled_and_comes_back(account_a):
    upsert_subaccounts(account_a, [sub("a1", active=False)])
    assert ProviderAccount.objects.get(parent=account_a).status == "disabled"

    upsert_subaccounts(account_a, [sub("a1")])
    assert ProviderAccount.objects.get(parent=account_a).status == "active"


def test_secrets_in_the_raw_payload_are_not_stored(account_a):
    upsert_subaccounts(account_a, [sub("a1", raw={"id": "a1", "secret": "s3cret"})])

    assert ProviderAccount.objects.get(parent=account_a).remote_payload == {"id": "a1"}


def test_a_46elks_subaccount_without_its_secret_is_not_synced_as_the_parent(account_a):
    upsert_subaccounts(account_a, [sub("a1", credentials=None)])

    child = ProviderAccount.objects.get(parent=account_a)
    assert child.sync_enabled is False and child.last_error


def test_callr_subaccount_logs_in_as_the_child_with_the_parents_key(tenant_a):
    parent = make_account(tenant_a, "callr")

    upsert_subaccounts(parent, [sub("callr-child", credentials=None)])

    child = ProviderAccount.objects.get(parent=parent)
    assert child.credentials == {"api_key": "callr-key"}
    assert child.options["login_as"] == "callr-child"


def test_jambonz_subaccount_is_addressed_by_its_account_sid(tenant_a):
    parent = make_account(tenant_a, "jambonz")

    upsert_subaccounts(parent, [sub("sid-child", credentials=None)])

    child = ProviderAccount.objects.get(parent=parent)
    assert child.credentials == {"api_key": "jz-token", "account_sid": "sid-child"}
    assert (child.remote_account_id, child.options["account_sid"]) == ("sid-child", "sid-child")


def test_subaccounts_of_two_tenants_stay_apart(account_a, account_b):
    upsert_subaccounts(account_a, [sub("same")])
    upsert_subaccounts(account_b, [sub("same")])

    assert ProviderAccount.objects.for_tenant(account_a.tenant).filter(parent__isnull=False).count() == 1
    assert ProviderAccount.objects.for_tenant(account_b.tenant).filter(parent__isnull=False).count() == 1
