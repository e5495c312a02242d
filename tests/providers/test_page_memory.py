"""Pages a sync already wrote are not written again (providers.page_memory): a rerun over
unchanged history skips their importer, anything that changed is imported as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message
from providers import page_memory, sync, tasks
from providers.adapters.elks46 import client as elks46
from providers.adapters.records import SmsRequest
from providers.connect import open_adapter
from providers.models import ProviderAccount, SyncedPage, SyncRun
from providers.sync import run_sync


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(elks46, "PAGE_LIMIT", 20)
    monkeypatch.setattr(sync, "sleep", lambda seconds: None)


@pytest.fixture
def imported_pages(monkeypatch):
    """The resources of the pages handed to an importer, in order."""
    seen: list[str] = []
    real = sync.importer_for

    def counting(resource):
        importer = real(resource)

        def run(account, items):
            seen.append(resource)
            return importer(account, items)

        return run

    monkeypatch.setattr(sync, "importer_for", counting)
    return seen


def new_run(account) -> SyncRun:
    return SyncRun.objects.create(tenant=account.tenant, account=account, trigger=SyncRun.Trigger.COMMAND)


def forget_cursors(account) -> None:
    ProviderAccount.objects.filter(pk=account.pk).update(sync_cursors={})
    account.refresh_from_db()


def test_a_rerun_over_unchanged_history_imports_no_page_again(
    tenant_a, sandbox_account, small_pages, imported_pages
):
    account = sandbox_account(tenant_a, "46elks", seed=4, size=60)
    first = run_sync(new_run(account))
    forget_cursors(account)
    imported_pages.clear()

    rerun = run_sync(new_run(account))

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    assert [r for r in imported_pages if r in page_memory.REMEMBERED] == []
    assert rerun.resources["messages"]["fetched"] == first.resources["messages"]["fetched"]
    assert rerun.resources["messages"]["created"] == 0


def test_a_page_with_a_new_record_is_imported(tenant_a, sandbox_account, small_pages):
    account = sandbox_account(tenant_a, "46elks", seed=4, size=60)
    run_sync(new_run(account))
    with open_adapter(account) as adapter:
        sent = adapter.send_sms(SmsRequest("+46766860000", "+46701234567", "Sent elsewhere"))
    forget_cursors(account)

    rerun = run_sync(new_run(account))

    assert rerun.resources["messages"]["created"] == 1
    assert Message.objects.filter(provider_account=account, remote_id=sent.remote_id).exists()


def test_pages_are_remembered_per_account(tenant_a, sandbox_account, small_pages, imported_pages):
    first = sandbox_account(tenant_a, "46elks", seed=4, size=40)
    twin = sandbox_account(tenant_a, "46elks", seed=4, size=40)  # the same history elsewhere
    run_sync(new_run(first))

    run = run_sync(new_run(twin))

    assert run.resources["messages"]["created"] == run.resources["messages"]["fetched"] > 0


def test_lists_of_numbers_are_not_remembered(tenant_a, sandbox_account, small_pages):
    account = sandbox_account(tenant_a, "46elks", seed=4, size=20)

    run_sync(new_run(account))

    assert set(SyncedPage.objects.values_list("resource", flat=True)) == {"messages", "calls"}


def test_pages_not_seen_for_the_retention_are_forgotten(tenant_a, sandbox_account, small_pages, settings):
    settings.SYNC_PAGE_MEMORY_DAYS = 30
    account = sandbox_account(tenant_a, "46elks", seed=4, size=20)
    run_sync(new_run(account))
    remembered = SyncedPage.objects.count()
    SyncedPage.objects.filter(pk=SyncedPage.objects.first().pk).update(
        seen_at=timezone.now() - timedelta(days=31)
    )

    assert tasks.prune_synced_pages() == {"deleted": 1}
    assert SyncedPage.objects.count() == remembered - 1
