"""End to end through a real Celery worker on the real Redis broker (test db 9)."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from providers.models import SyncRun
from providers.tasks import start_sync

UNFINISHED = [SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]


def wait_until_all_runs_finish(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while SyncRun.objects.filter(status__in=UNFINISHED).exists() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_started_sync_runs_on_a_worker_and_succeeds(tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks", seed=3, size=30)

    with start_worker(app, perform_ping_check=False, pool="solo", queues=["sync", "sync_bulk", "default"]):
        run = start_sync(account, SyncRun.Trigger.DASHBOARD)
        # The root's run queues its subaccounts' runs; wait for those too, so no task is
        # still writing when the test's database is flushed.
        wait_until_all_runs_finish()

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.resources["messages"]["created"] > 0
    account.refresh_from_db()
    assert account.last_synced_at == run.finished_at
    subaccount_runs = SyncRun.objects.filter(account__parent=account)
    assert subaccount_runs.exists()
    assert set(subaccount_runs.values_list("status", flat=True)) == {SyncRun.Status.SUCCEEDED}
