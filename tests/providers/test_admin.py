"""Provider admin pages: they load for staff and never show a credential."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from providers import tasks
from providers.models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent


@pytest.fixture
def rows(tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks", label="main")
    callr = sandbox_account(tenant_a, "callr", label="signed")
    run = SyncRun.objects.create(tenant=tenant_a, account=account, status="succeeded")
    event = WebhookEvent.objects.create(
        tenant=tenant_a, account=account, provider="46elks", kind="dlr", event_key="k"
    )
    log = ProviderLog.objects.create(
        tenant=tenant_a, account=account, method="GET", url="http://sandbox/a1/sms"
    )
    return {"account": account, "callr": callr, "run": run, "event": event, "log": log}


def assert_no_secret(response, *accounts: ProviderAccount):
    assert response.status_code == 200
    html = response.content.decode()
    for account in accounts:
        for value in account.credentials.values():
            assert value not in html
        if account.webhook_secret:
            assert account.webhook_secret not in html
    assert "credentials_encrypted" not in html


@pytest.mark.parametrize("model", ["provideraccount", "syncrun", "webhookevent", "providerlog"])
def test_every_changelist_loads_without_credentials(login, staff, rows, model):
    response = login(staff).get(reverse(f"admin:providers_{model}_changelist"))

    assert_no_secret(response, rows["account"], rows["callr"])


@pytest.mark.parametrize(
    ("model", "row"),
    [
        ("provideraccount", "account"),
        ("provideraccount", "callr"),
        ("syncrun", "run"),
        ("webhookevent", "event"),
        ("providerlog", "log"),
    ],
)
def test_every_change_page_loads_without_credentials(login, staff, rows, model, row):
    response = login(staff).get(reverse(f"admin:providers_{model}_change", args=[rows[row].pk]))

    assert_no_secret(response, rows["account"], rows["callr"])


def test_the_add_page_loads(login, staff, db):
    response = login(staff).get(reverse("admin:providers_provideraccount_add"))

    assert response.status_code == 200
    assert "new_credentials" in response.content.decode()


def add_form(tenant, credentials: str) -> dict[str, str]:
    return {
        "tenant": tenant.pk,
        "provider": "46elks",
        "name": "Added",
        "status": "active",
        "sync_enabled": "on",
        "sync_interval": "15",
        "send_rate": "5",
        "options": "{}",
        "new_credentials": credentials,
    }


def test_new_credentials_are_validated_by_the_adapter_and_never_echoed(login, staff, tenant_a):
    response = login(staff).post(
        reverse("admin:providers_provideraccount_add"),
        add_form(tenant_a, '{"username": "u1", "pw": "typo-secret"}'),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "credentials need" in html
    assert "typo-secret" not in html
    assert not ProviderAccount.objects.exists()


def test_an_account_is_added_with_encrypted_credentials(login, staff, tenant_a):
    response = login(staff).post(
        reverse("admin:providers_provideraccount_add"),
        add_form(tenant_a, '{"username": "u1", "password": "distinctive-secret-1"}'),
    )

    assert response.status_code == 302
    account = ProviderAccount.objects.get()
    assert account.credentials == {"username": "u1", "password": "distinctive-secret-1"}
    assert "distinctive-secret-1" not in account.credentials_encrypted


def test_saving_without_new_credentials_keeps_the_old_ones(login, staff, tenant_a, rows):
    account = rows["account"]
    before = account.credentials
    form = add_form(tenant_a, "") | {"name": "Renamed"}

    response = login(staff).post(reverse("admin:providers_provideraccount_change", args=[account.pk]), form)

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.credentials) == ("Renamed", before)


def test_sync_now_queues_an_admin_run(login, staff, rows, django_capture_on_commit_callbacks):
    account = rows["account"]

    with (
        mock.patch.object(tasks.sync_account, "apply_async") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        login(staff).post(
            reverse("admin:providers_provideraccount_changelist"),
            {"action": "sync_now", "_selected_action": [account.pk]},
        )

    run = SyncRun.objects.get(account=account, trigger=SyncRun.Trigger.ADMIN)
    delay.assert_called_once_with(kwargs={"run_id": run.pk}, queue="sync_bulk")


def test_reapply_puts_events_back_to_pending_and_enqueues_them(
    login, staff, rows, django_capture_on_commit_callbacks
):
    event = rows["event"]
    WebhookEvent.objects.filter(pk=event.pk).update(status="failed", error="boom")

    with (
        mock.patch.object(tasks.apply_webhook_event, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        login(staff).post(
            reverse("admin:providers_webhookevent_changelist"),
            {"action": "reapply", "_selected_action": [event.pk]},
        )

    event.refresh_from_db()
    assert event.status == "pending"
    delay.assert_called_once_with(event.pk)


def test_members_of_a_tenant_cannot_open_the_admin(login, owner_a, rows):
    response = login(owner_a).get(reverse("admin:providers_provideraccount_changelist"))

    assert response.status_code == 302
