"""provider-accounts: connect, change, disconnect, check credentials, queue a sync."""

from __future__ import annotations

import pytest
from django.test import TestCase

from accounts.models import AuditLog
from providers.models import ProviderAccount, SyncRun

from .factories import provider_account
from .helpers import results

pytestmark = pytest.mark.django_db

URL = "/api/v1/provider-accounts/"
ELKS = {"username": "u1", "password": "secret-pw"}


def create(api_a, **body):
    payload = {"provider": "46elks", "name": "Main", "credentials": ELKS, **body}
    return api_a.post(URL, payload, format="json")


def test_create_encrypts_credentials_and_never_returns_them(api_a, tenant_a):
    response = create(api_a)
    assert response.status_code == 201
    body = response.json()
    assert "credentials" not in body and "secret-pw" not in response.content.decode()
    account = ProviderAccount.objects.for_tenant(tenant_a).get(pk=body["id"])
    assert account.credentials == ELKS
    assert "secret-pw" not in account.credentials_encrypted


def test_account_shape(api_a):
    body = create(api_a, usage_limit="100.5", currency="sek").json()
    assert set(body) >= {
        "id", "provider", "name", "base_url", "webhook_urls", "capabilities", "status",
        "last_synced_at", "last_error", "parent", "usage", "usage_limit", "currency", "sync_interval",
        "send_rate", "created_at",
    }  # fmt: skip
    assert body["usage_limit"] == "100.5000"
    assert body["currency"] == "SEK"
    assert body["created_at"].endswith("Z")
    assert body["webhook_urls"]["sms"].startswith("http://testserver/hooks/46elks/")
    assert "send_sms" in body["capabilities"]


@pytest.mark.parametrize(
    ("provider", "credentials"),
    [
        ("sipcentric", {"username": "u", "password": "p"}),
        ("callr", {"api_key": "k"}),
        ("callr", {"login": "l", "password": "p"}),
        ("jambonz", {"api_key": "k", "account_sid": "sid"}),
    ],
)
def test_each_providers_credential_shape_is_accepted(api_a, provider, credentials):
    assert create(api_a, provider=provider, credentials=credentials).status_code == 201


@pytest.mark.parametrize(
    ("provider", "credentials"),
    [("46elks", {"api_key": "k"}), ("callr", {"login": "l"}), ("jambonz", {"api_key": "k"})],
)
def test_wrong_credential_shape_is_a_field_error(api_a, provider, credentials):
    response = create(api_a, provider=provider, credentials=credentials)
    assert response.status_code == 400
    assert "credentials" in response.json()["error"]["fields"]


def test_credentials_are_required_on_create(api_a):
    response = api_a.post(URL, {"provider": "46elks", "name": "x"}, format="json")
    assert response.status_code == 400
    assert "credentials" in response.json()["error"]["fields"]


def test_update_replaces_credentials_and_is_audited(api_a, tenant_a):
    account = provider_account(tenant_a)
    response = api_a.patch(f"{URL}{account.pk}/", {"name": "Renamed", "credentials": ELKS}, format="json")
    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.name, account.credentials) == ("Renamed", ELKS)
    entry = AuditLog.objects.for_tenant(tenant_a).get(action="provider_account.update")
    assert entry.data == {"fields": ["credentials", "name"]}
    assert entry.api_key is not None


def test_provider_cannot_change(api_a, tenant_a):
    account = provider_account(tenant_a)
    response = api_a.patch(f"{URL}{account.pk}/", {"provider": "callr"}, format="json")
    assert response.status_code == 400


def test_delete_answers_202_and_deletes_in_the_background(api_a, tenant_a, monkeypatch):
    from providers import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.delete_account_task, "delay", queued.append)
    account = provider_account(tenant_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api_a.delete(f"{URL}{account.pk}/")
    assert response.status_code == 202
    assert response.json() == {
        "id": account.pk,
        "status": "deleting",
        "detail": "Deleting in the background.",
    }
    assert ProviderAccount.objects.get(pk=account.pk).status == ProviderAccount.Status.DELETING
    assert queued == [account.pk]
    assert AuditLog.objects.for_tenant(tenant_a).filter(action="provider_account.delete").exists()


def test_a_deleting_account_cannot_be_changed(api_a, tenant_a):
    account = provider_account(tenant_a, status=ProviderAccount.Status.DELETING)
    response = api_a.patch(f"{URL}{account.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 409
    assert ProviderAccount.objects.get(pk=account.pk).name != "renamed"


def test_create_is_audited(api_a, tenant_a):
    account_id = create(api_a).json()["id"]
    entry = AuditLog.objects.for_tenant(tenant_a).get(action="provider_account.create")
    assert entry.object_id == str(account_id)


def test_check_credentials_against_the_sandbox(api_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks", size=5)
    response = api_a.post(f"{URL}{account.pk}/test/")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["account"]["remote_id"]


def test_refused_credentials_are_422_with_the_providers_message(api_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks", size=5)
    account.set_credentials({"username": "nobody", "password": "wrong"})
    account.save()
    response = api_a.post(f"{URL}{account.pk}/test/")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "provider_authfailed"
    assert "wrong" not in error["message"]


def test_sync_queues_a_run(api_a, tenant_a, django_capture_on_commit_callbacks):
    account = provider_account(tenant_a)
    response = api_a.post(f"{URL}{account.pk}/sync/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    run = SyncRun.objects.for_tenant(tenant_a).get(pk=body["id"])
    assert (run.account_id, run.trigger) == (account.pk, "api")
    assert AuditLog.objects.for_tenant(tenant_a).filter(action="sync.start", object_id=str(run.pk)).exists()


def test_sync_of_a_disabled_account_is_409(api_a, tenant_a):
    account = provider_account(tenant_a, status=ProviderAccount.Status.DISABLED)
    response = api_a.post(f"{URL}{account.pk}/sync/")
    assert response.status_code == 409
    assert not SyncRun.objects.filter(account=account).exists()


def test_list_filters_by_provider(api_a, tenant_a):
    provider_account(tenant_a, "46elks")
    callr = provider_account(tenant_a, "callr")
    rows = results(api_a.get(URL, {"provider": "callr"}))
    assert [row["id"] for row in rows] == [callr.pk]
