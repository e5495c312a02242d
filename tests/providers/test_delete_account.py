"""Deleting a provider account: the service marks it `deleting` and queues a task; the task
removes everything synced through it in batches, resumably, and nothing of anybody else."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import TestCase
from django.utils import timezone

from accounts.models import AuditLog
from billing.models import BalanceSnapshot, DailyUsage, NumberRental
from calls.models import Call, CallLeg, Recording
from messaging.models import BulkSend, Message, MessageMedia
from numbers.models import PhoneNumber
from providers import purge, services, tasks
from providers.locks import sync_lock
from providers.models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent
from tests.api import factories as f

pytestmark = pytest.mark.django_db

Status = ProviderAccount.Status
SYNCED = [Message, MessageMedia, Call, CallLeg, Recording, PhoneNumber, NumberRental, BulkSend, DailyUsage]
SYNCED += [BalanceSnapshot, ProviderLog, WebhookEvent, SyncRun]


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Account ids whose deletion task was queued (on commit)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.delete_account_task, "delay", lambda account_id: ids.append(account_id))
    return ids


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def populate(tenant) -> dict:
    """One row of every table that hangs off the tenant's root account, files included."""
    root = f.root_account(tenant)
    child = f.subaccount(tenant)
    number = f.phone_number(tenant)
    NumberRental.objects.create(
        tenant=tenant, number=number, period=date(2026, 1, 1), cost=Decimal("1"), currency="SEK"
    )
    bulk = f.FACTORIES[BulkSend](tenant)
    f.message(tenant, number=number, bulk_send=bulk, subaccount=child)
    files = [f.media(tenant, content=b"PNG").file.path, f.recording(tenant, content=b"ID3").file.path]
    f.call(tenant, number=number, subaccount=child)
    for kwargs in ({"subaccount": None}, {"subaccount": child}):
        DailyUsage.objects.create(
            tenant=tenant,
            provider_account=root,
            kind="sms",
            direction="outbound",
            day=date(2026, 1, 2),
            **kwargs,
        )
    for model in (BalanceSnapshot, ProviderLog, WebhookEvent, SyncRun):
        f.FACTORIES[model](tenant)
    SyncRun.objects.create(tenant=tenant, account=child, status=SyncRun.Status.SUCCEEDED)
    return {"root": root, "child": child, "files": files}


def counts(tenant) -> dict[str, int]:
    return {m._meta.label: m.objects.for_tenant(tenant).count() for m in SYNCED}


def delete_now(account: ProviderAccount) -> dict:
    services.delete_account(account)
    return tasks.delete_account_task.apply(args=[account.pk]).get()


# -- the service: mark and queue ----------------------------------------------------------------
def test_delete_marks_the_account_and_its_subaccounts_and_queues_the_task(tenant_a, owner_a, queued):
    rows = populate(tenant_a)
    waiting = SyncRun.objects.create(tenant=tenant_a, account=rows["child"])

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.delete_account(rows["root"], actor=owner_a)

    statuses = set(ProviderAccount.objects.for_tenant(tenant_a).values_list("status", flat=True))
    assert statuses == {Status.DELETING}
    assert queued == [rows["root"].pk]
    assert Message.objects.for_tenant(tenant_a).exists()  # nothing removed in the request
    waiting.refresh_from_db()
    assert waiting.status == SyncRun.Status.FAILED


def test_deleting_twice_is_audited_once_and_queued_again(tenant_a, owner_a, queued):
    account = f.root_account(tenant_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.delete_account(account, actor=owner_a)
        services.delete_account(account, actor=owner_a)

    assert AuditLog.objects.for_tenant(tenant_a).filter(action="provider_account.delete").count() == 1
    assert queued == [account.pk, account.pk]


# -- the task -----------------------------------------------------------------------------------
def test_the_task_removes_everything_of_the_account_and_nothing_of_another(tenant_a, tenant_b, media_root):
    rows = populate(tenant_a)
    populate(tenant_b)
    before_b = counts(tenant_b)
    bystander = f.provider_account(tenant_a, name="zz other")
    kept = f.message(tenant_a)
    Message.objects.filter(pk=kept.pk).update(provider_account=bystander)

    result = delete_now(rows["root"])

    assert result["status"] == "deleted"
    assert list(ProviderAccount.objects.for_tenant(tenant_a)) == [bystander]
    assert {label: n for label, n in counts(tenant_a).items() if n} == {"messaging.Message": 1}
    assert counts(tenant_b) == before_b
    assert not any(os.path.exists(p) for p in rows["files"])


def test_a_rerun_after_a_partial_run_finishes_the_job(tenant_a, media_root, monkeypatch):
    rows = populate(tenant_a)
    for _ in range(4):
        f.message(tenant_a)
    monkeypatch.setattr(purge, "PURGE_BATCH", 2)
    services.delete_account(rows["root"])

    def worker_dies() -> None:  # after the first batch of messages
        if Message.objects.for_tenant(tenant_a).count() < 6:
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        purge.purge_account(rows["root"].pk, heartbeat=worker_dies)
    assert Message.objects.for_tenant(tenant_a).count() == 4  # the committed batch stays done

    delete_now(rows["root"])

    assert not any(counts(tenant_a).values())
    assert not ProviderAccount.objects.for_tenant(tenant_a).exists()


def test_a_subaccount_deleted_alone_leaves_its_roots_history_without_it(tenant_a):
    rows = populate(tenant_a)

    delete_now(rows["child"])

    assert not ProviderAccount.objects.filter(pk=rows["child"].pk).exists()
    assert Message.objects.for_tenant(tenant_a).filter(subaccount__isnull=True).count() == 2
    assert Call.objects.for_tenant(tenant_a).filter(subaccount__isnull=True).count() == 2
    assert DailyUsage.objects.for_tenant(tenant_a).count() == 1  # the child's rollup went with it
    assert ProviderAccount.objects.get(pk=rows["root"].pk).status == Status.ACTIVE


def test_the_task_waits_for_a_sync_still_running(tenant_a):
    from celery.exceptions import Retry

    account = f.root_account(tenant_a)
    services.delete_account(account)

    with sync_lock(account.pk), pytest.raises(Retry):
        tasks.delete_account_task.apply(args=[account.pk], throw=True).get()

    assert ProviderAccount.objects.filter(pk=account.pk).exists()


def test_the_task_leaves_an_account_that_is_not_being_deleted(tenant_a):
    account = f.root_account(tenant_a)

    result = tasks.delete_account_task.apply(args=[account.pk]).get()

    assert result["status"] == "skipped: active"
    assert ProviderAccount.objects.filter(pk=account.pk).exists()


def test_the_dispatcher_queues_a_stalled_deletion_again(tenant_a, queued):
    account = f.root_account(tenant_a)
    services.delete_account(account)
    ProviderAccount.objects.filter(pk=account.pk).update(
        updated_at=timezone.now() - tasks.DELETION_STALLED_AFTER * 2
    )

    assert tasks.sync_due_accounts()["deletions_resumed"] == 1
    assert "deletions_resumed" not in tasks.sync_due_accounts()  # not again until it stalls again
    assert queued == [account.pk]


def test_the_plan_covers_every_table_that_references_an_account():
    """A new foreign key to ProviderAccount must join purge.purge_plan() (or the final ORM
    delete would have to walk a big table in one transaction)."""
    planned = {(s.model, s.field) for s in purge.purge_plan()}
    planned |= {(".".join(d.split(".")[:2]), d.split(".")[2]) for s in purge.purge_plan() for d in s.cascade}
    planned |= {
        (".".join(d.split(".")[:2]), d.split(".")[2]) for s in purge.purge_plan() for d in s.set_null
    }
    referencing = {
        (rel.related_model._meta.label, rel.field.name)
        for model in (ProviderAccount, *[apps.get_model(s.model) for s in purge.purge_plan()])
        for rel in model._meta.get_fields(include_hidden=True)
        if rel.auto_created
        and not rel.concrete
        and rel.is_relation
        and rel.related_model is not ProviderAccount
    }
    assert referencing - planned == set()


# -- a deleting account is left alone -----------------------------------------------------------
def test_a_deleting_account_is_not_synced(tenant_a, api_a):
    account = f.root_account(tenant_a)
    services.delete_account(account)
    run = SyncRun.objects.create(tenant=tenant_a, account=account)  # queued just before

    assert account not in tasks.due_accounts()
    assert api_a.post(f"/api/v1/provider-accounts/{account.pk}/sync/").status_code == 409
    assert tasks.sync_account(run_id=run.pk)["status"] == SyncRun.Status.FAILED
    run.refresh_from_db()
    assert (run.status, run.error) == (SyncRun.Status.FAILED, "The account is being deleted.")


def test_a_deleting_account_sends_nothing(tenant_a):
    from messaging.delivery import deliver_message
    from outbound.checks import check_account
    from providers.adapters.records import Capability

    account = f.root_account(tenant_a)
    message = f.message(tenant_a, status="queued", remote_id="", direction="outbound")
    services.delete_account(account)

    assert check_account(tenant_a, ProviderAccount.objects.get(pk=account.pk), Capability.SEND_SMS)
    assert deliver_message(message.pk).status == "failed"
    assert Message.objects.get(pk=message.pk).error == "The provider account is being deleted."


def test_a_deleting_account_cannot_be_enabled_disabled_or_edited(tenant_a):
    from django.core.exceptions import ValidationError

    account = f.root_account(tenant_a)
    services.delete_account(account)

    assert services.set_account_enabled(account, False).status == Status.DELETING
    assert services.set_account_enabled(account, True).status == Status.DELETING
    with pytest.raises(ValidationError, match="being deleted"):
        services.update_account(account, name="renamed")


def test_a_synced_46elks_account_is_deleted_to_the_last_row(tenant_a, tenant_b, sandbox_account):
    from providers.sync import run_sync

    doomed, kept = sandbox_account(tenant_a, "46elks", size=40), sandbox_account(tenant_b, "46elks", size=40)
    for account in (doomed, kept):
        run_sync(
            SyncRun.objects.create(tenant_id=account.tenant_id, account=account), enqueue_subaccounts=False
        )
    assert Message.objects.for_tenant(tenant_a).exists() and DailyUsage.objects.for_tenant(tenant_a).exists()
    before_b = counts(tenant_b)

    delete_now(doomed)

    assert not any(counts(tenant_a).values())
    assert not ProviderAccount.objects.for_tenant(tenant_a).exists()
    assert counts(tenant_b) == before_b
