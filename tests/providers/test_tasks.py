"""Celery tasks of the providers app: dispatcher, start_sync, sweepers and pruning."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from providers import tasks
from providers.models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent
from tests.providers import test_sync_fakes as fakes
from tests.providers.test_sync_fakes import make_account

registry, world = fakes.registry, fakes.world


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def test_the_dispatcher_queues_only_due_accounts(tenant_a, tenant_b, django_capture_on_commit_callbacks):
    never = make_account(tenant_a, "Never synced")
    overdue = make_account(tenant_a, "Overdue", last_synced_at=ago(minutes=16), sync_interval=15)
    other_tenant = make_account(tenant_b, "B overdue", last_synced_at=ago(hours=2))
    make_account(tenant_a, "Fresh", last_synced_at=ago(minutes=5), sync_interval=15)
    make_account(tenant_a, "Disabled", status=ProviderAccount.Status.DISABLED)
    make_account(tenant_a, "Sync off", sync_enabled=False)
    busy = make_account(tenant_a, "Busy")
    SyncRun.objects.create(
        tenant=tenant_a, account=busy, status=SyncRun.Status.RUNNING, started_at=ago(minutes=1)
    )

    with (
        mock.patch.object(tasks.sync_account, "apply_async") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = tasks.sync_due_accounts()

    runs = SyncRun.objects.filter(trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.QUEUED)
    assert {r.account_id for r in runs} == {never.pk, overdue.pk, other_tenant.pk}
    assert sorted(c.kwargs["kwargs"]["run_id"] for c in delay.call_args_list) == sorted(r.pk for r in runs)
    assert result == {"enqueued": 3, "abandoned": 0}


def test_the_dispatcher_fails_abandoned_runs(tenant_a):
    account = make_account(tenant_a, last_synced_at=timezone.now())
    stuck = SyncRun.objects.create(tenant=tenant_a, account=account, status=SyncRun.Status.RUNNING)
    SyncRun.objects.filter(pk=stuck.pk).update(started_at=ago(hours=3))

    assert tasks.sync_due_accounts()["abandoned"] == 1
    stuck.refresh_from_db()
    assert stuck.status == SyncRun.Status.FAILED


def test_start_sync_queues_a_run_and_enqueues_it_after_commit(tenant_a, django_capture_on_commit_callbacks):
    account = make_account(tenant_a)

    with mock.patch.object(tasks.sync_account, "apply_async") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = tasks.start_sync(account, SyncRun.Trigger.DASHBOARD)
            delay.assert_not_called()
        callbacks[0]()

    assert (run.status, run.trigger, run.tenant_id) == ("queued", "dashboard", tenant_a.pk)
    delay.assert_called_once_with(kwargs={"run_id": run.pk}, queue="sync_bulk")


def test_start_sync_returns_the_run_already_queued(tenant_a):
    account = make_account(tenant_a)
    first = tasks.start_sync(account, SyncRun.Trigger.DASHBOARD)

    assert tasks.start_sync(account, SyncRun.Trigger.API) == first
    assert SyncRun.objects.filter(account=account).count() == 1


def test_sync_account_given_an_account_id_creates_and_runs_a_run(tenant_a, world):
    account = make_account(tenant_a)

    result = tasks.sync_account(account_id=account.pk)

    run = SyncRun.objects.get(account=account)
    assert result == {"run": run.pk, "status": "succeeded"}


def test_sync_account_of_a_missing_run_is_a_no_op(db):
    assert tasks.sync_account(run_id=999_999) == {"run": 999_999, "status": "missing"}


def test_prune_provider_logs_deletes_only_rows_past_retention(tenant_a, settings, monkeypatch):
    settings.PROVIDER_LOG_RETENTION_DAYS = 14
    monkeypatch.setattr(tasks, "PRUNE_BATCH", 2)
    account = make_account(tenant_a)
    for days in (20, 15, 15, 15, 13, 0):
        ProviderLog.objects.create(
            tenant=tenant_a, account=account, method="GET", url="u", created_at=ago(days=days)
        )

    assert tasks.prune_provider_logs() == {"deleted": 4}
    assert ProviderLog.objects.count() == 2


@pytest.mark.parametrize(
    ("status", "attempts", "minutes", "retried"),
    [
        ("pending", 0, 1, True),
        ("pending", 0, 0.2, False),  # its own applier is probably still on the way
        ("failed", 1, 10, True),
        ("failed", 1, 1, False),  # retried only after a while
        ("failed", 5, 10, False),  # out of attempts
        ("applied", 1, 10, False),
    ],
)
def test_retry_pending_webhook_events(tenant_a, status, attempts, minutes, retried):
    account = make_account(tenant_a)
    event = WebhookEvent.objects.create(
        tenant=tenant_a,
        account=account,
        provider="46elks",
        kind="dlr",
        event_key="k",
        status=status,
        attempts=attempts,
        received_at=ago(minutes=minutes),
    )

    with mock.patch.object(tasks.apply_webhook_event, "delay") as delay:
        tasks.retry_pending_webhook_events()

    assert delay.call_args_list == ([mock.call(event.pk)] if retried else [])


def test_a_first_import_goes_to_its_own_queue(tenant_a, django_capture_on_commit_callbacks):
    account = make_account(tenant_a)

    with (
        mock.patch.object(tasks.sync_account, "apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.start_sync(account, SyncRun.Trigger.DASHBOARD)

    assert enqueue.call_args.kwargs["queue"] == "sync_bulk"


def test_an_incremental_sync_goes_to_the_sync_queue(tenant_a, django_capture_on_commit_callbacks):
    account = make_account(tenant_a, last_synced_at=timezone.now())

    with (
        mock.patch.object(tasks.sync_account, "apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.start_sync(account, SyncRun.Trigger.DASHBOARD)

    assert enqueue.call_args.kwargs["queue"] == "sync"


def test_a_sync_waits_while_every_slot_of_its_provider_is_taken(tenant_a, settings):
    from providers.locks import provider_slot

    settings.SYNC_PROVIDER_CONCURRENCY = 1
    account = make_account(tenant_a, last_synced_at=timezone.now())
    run = SyncRun.objects.create(tenant=tenant_a, account=account)

    with provider_slot(account.provider, 1), mock.patch.object(tasks.sync_account, "apply_async") as enqueue:
        result = tasks.sync_account(run_id=run.pk)

    run.refresh_from_db()
    assert (result["status"], run.status) == ("queued", "queued")
    assert enqueue.call_args.kwargs == {
        "kwargs": {"run_id": run.pk},
        "queue": "sync",
        "countdown": tasks.SYNC_SLOT_RETRY_SECONDS,
    }
