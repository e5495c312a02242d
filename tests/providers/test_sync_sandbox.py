"""The sync engine against the 46elks sandbox and the real domain importers."""

from __future__ import annotations

import pytest

from calls.models import Call
from messaging.models import Message
from providers import sync
from providers.adapters.elks46 import client as elks46
from providers.models import SyncRun
from providers.sync import run_sync


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(elks46, "PAGE_LIMIT", 20)
    monkeypatch.setattr(sync, "sleep", lambda seconds: None)


def new_run(account) -> SyncRun:
    return SyncRun.objects.create(tenant=account.tenant, account=account, trigger=SyncRun.Trigger.COMMAND)


def test_a_sandbox_history_is_imported_completely(tenant_a, sandbox_account, small_pages):
    account = sandbox_account(tenant_a, "46elks", seed=4, size=60)

    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    messages = run.resources["messages"]
    assert messages["pages"] > 2
    assert (
        Message.objects.filter(provider_account=account).count() == messages["fetched"] == messages["created"]
    )
    assert Call.objects.filter(provider_account=account).count() == run.resources["calls"]["created"] > 0


def test_a_sandbox_sync_resumes_after_a_fault_mid_history_without_duplicates(
    tenant_a, sandbox, sandbox_account, small_pages
):
    account = sandbox_account(tenant_a, "46elks", seed=4, size=240)

    def fault_after_two_pages(resource, state):
        if resource == "messages" and state["pages"] == 2 and not sandbox.faults.rules():
            sandbox.faults.add("error", provider="46elks", endpoint="GET /a1/sms", count=10)

    failed = run_sync(new_run(account), progress=fault_after_two_pages)

    assert failed.status == SyncRun.Status.FAILED
    # The fetcher and the parser run ahead of the writer (each: a page queued, one in
    # hand): the fault meets them four pages later at most.
    pages = failed.resources["messages"]["pages"]
    assert 2 <= pages <= 6
    assert failed.resources["messages"]["error"]
    assert failed.resources["calls"]["status"] == "succeeded"  # the others still ran
    assert Message.objects.filter(provider_account=account).count() == pages * 20
    sandbox.faults.clear()

    rerun = run_sync(new_run(account))

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    assert rerun.resources["messages"]["cursor_before"] == failed.resources["messages"]["cursor_after"]
    assert rerun.resources["messages"]["updated"] == 0  # no page imported twice
    total = failed.resources["messages"]["created"] + rerun.resources["messages"]["created"]
    assert Message.objects.filter(provider_account=account).count() == total


def test_a_second_sandbox_sync_imports_nothing_new(tenant_a, sandbox_account, small_pages):
    account = sandbox_account(tenant_a, "46elks", seed=4, size=40)
    run_sync(new_run(account))
    before = Message.objects.filter(provider_account=account).count()

    rerun = run_sync(new_run(account))

    assert rerun.resources["messages"]["created"] == 0
    assert Message.objects.filter(provider_account=account).count() == before
