"""End to end through a real Celery worker on the real Redis broker (test db 9)."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from providers.models import SyncRun
from providers.tasks import start_sync


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_started_sync_runs_on_a_worker_and_succeeds(tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks", seed=3, size=30)
    app.control.purge()  # leftovers of an earlier, interrupted test session

    with start_worker(app, perform_ping_check=False, pool="solo", queues=["sync", "default"]):
        run = start_sync(account, SyncRun.Trigger.DASHBOARD)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
                break
            time.sleep(0.2)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.resources["numbers"]["fetched"] > 0
    account.refresh_from_db()
    assert account.last_synced_at == run.finished_at
