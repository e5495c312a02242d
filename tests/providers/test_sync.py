"""The sync engine: pages, cursors, failures, skips and the per-account lock."""

from __future__ import annotations

from unittest import mock

import pytest

from providers.adapters.errors import AuthFailed, Rejected, Unavailable
from providers.adapters.records import Capability
from providers.locks import sync_lock
from providers.models import ProviderAccount, SyncRun
from providers.sync import ALREADY_RUNNING, NO_IMPORTER, run_sync
from tests.providers import test_sync_fakes as fakes
from tests.providers.test_sync_fakes import PASSWORD, make_account

registry, world = fakes.registry, fakes.world


def new_run(account: ProviderAccount) -> SyncRun:
    return SyncRun.objects.create(tenant=account.tenant, account=account, trigger=SyncRun.Trigger.COMMAND)


@pytest.fixture
def account(tenant_a, world):
    world.sizes = {"messages": 25, "calls": 12, "numbers": 3}
    return make_account(tenant_a)


def test_first_sync_walks_every_page_and_stores_the_cursors(account, world):
    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert len(world.imported["messages"]) == 25
    assert run.resources["messages"] == {
        "status": "succeeded",
        "pages": 3,
        "fetched": 25,
        "created": 25,
        "updated": 0,
        "error": "",
        "cursor_before": None,
        "cursor_after": "25",
    }
    account.refresh_from_db()
    assert account.sync_cursors == {"numbers": "3", "messages": "25", "calls": "12"}
    assert account.last_synced_at == run.finished_at
    assert account.last_error == ""


def test_rerun_changes_nothing(account, world):
    run_sync(new_run(account))
    imported = {k: list(v) for k, v in world.imported.items()}

    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert world.imported == imported
    assert run.resources["messages"]["cursor_before"] == "25"
    assert run.resources["messages"]["created"] == 0


def test_sync_resumes_from_the_cursor_after_a_failure_mid_history(account, world):
    world.sizes["messages"] = 50
    world.fail("messages", Unavailable("The provider did not answer in time."), after_pages=2)

    failed = run_sync(new_run(account))

    assert failed.status == SyncRun.Status.FAILED
    assert failed.resources["messages"]["pages"] == 2
    assert failed.resources["messages"]["cursor_after"] == "20"
    world.faults.clear()
    world.fetches.clear()

    rerun = run_sync(new_run(account))

    assert rerun.status == SyncRun.Status.SUCCEEDED
    assert next(f for f in world.fetches if f[0] == "messages") == ("messages", "20")
    assert sorted(world.imported["messages"]) == sorted(f"messages-{i}" for i in range(50))


def test_a_page_whose_import_crashes_keeps_its_cursor_and_is_fetched_again(account, world):
    world.importer_errors["messages"] = (1, RuntimeError("disk full"))

    failed = run_sync(new_run(account))

    assert failed.resources["messages"]["cursor_after"] == "10"
    account.refresh_from_db()
    assert account.sync_cursors["messages"] == "10"
    run_sync(new_run(account))
    assert world.imported["messages"] == [f"messages-{i}" for i in range(25)]


def test_read_errors_are_retried_before_the_resource_fails(account, world):
    world.fail("messages", Unavailable("Service temporarily unavailable"), after_pages=1, times=2)

    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert len(world.imported["messages"]) == 25


def test_a_failing_resource_records_its_error_while_the_others_still_run(account, world):
    world.fail("calls", Rejected("Invalid start date."))

    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.FAILED
    assert run.resources["calls"]["status"] == "failed"
    assert run.resources["calls"]["error"] == "Invalid start date."
    assert run.resources["messages"]["status"] == "succeeded"
    assert run.resources["numbers"]["status"] == "succeeded"
    assert "calls: Invalid start date." in run.error
    account.refresh_from_db()
    assert account.last_error == run.error
    assert account.status == ProviderAccount.Status.ACTIVE


def test_an_internal_error_stores_no_exception_text(account, world):
    world.importer_errors["numbers"] = (0, ValueError(f"password={PASSWORD}"))

    run = run_sync(new_run(account))

    assert run.resources["numbers"]["error"] == "Internal error while importing (ValueError)."
    assert PASSWORD not in run.error


def test_unsupported_resources_are_skipped(account, world):
    run = run_sync(new_run(account))

    assert run.resources["recordings"]["status"] == "skipped"
    assert run.resources["subaccounts"]["status"] == "skipped"
    assert not any(f[0] in ("recordings", "subaccounts") for f in world.fetches)
    assert run.progress["resources_done"] == 5


def test_a_resource_without_an_importer_is_skipped_and_noted(account, world, registry):
    del registry._importers["calls"]

    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.resources["calls"]["status"], run.resources["calls"]["error"]) == ("skipped", NO_IMPORTER)
    assert not any(f[0] == "calls" for f in world.fetches)


def test_refused_credentials_stop_the_run_and_flag_the_account(account, world):
    world.fail("numbers", AuthFailed("Wrong API username or password."))

    run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.FAILED
    assert run.resources["numbers"]["error"] == "Wrong API username or password."
    assert run.resources["messages"]["error"] == "not attempted: Wrong API username or password."
    assert world.fetches == [("numbers", None)]
    account.refresh_from_db()
    assert account.status == ProviderAccount.Status.ERROR


def test_a_successful_sync_clears_an_auth_error(account, world):
    ProviderAccount.objects.filter(pk=account.pk).update(status=ProviderAccount.Status.ERROR, last_error="x")

    run_sync(new_run(account))

    account.refresh_from_db()
    assert (account.status, account.last_error) == (ProviderAccount.Status.ACTIVE, "")


def test_progress_is_saved_after_every_page(account, world):
    seen = []

    def progress(resource, state):
        if resource == "messages" and state["status"] == "running":
            saved = SyncRun.objects.get(pk=run.pk).resources["messages"]
            seen.append((saved["pages"], saved["fetched"]))

    run = new_run(account)
    run_sync(run, progress=progress)

    assert seen == [(1, 10), (2, 20)]


def test_a_run_limited_to_resources_touches_only_those(account, world):
    run = run_sync(new_run(account), resources=["calls"])

    assert set(run.resources) == {"calls"}
    assert {f[0] for f in world.fetches} == {"calls"}


def test_the_lock_prevents_an_overlapping_run(account, world):
    with sync_lock(account.pk) as held:
        assert held.held
        run = run_sync(new_run(account))

    assert run.status == SyncRun.Status.FAILED
    assert run.error == ALREADY_RUNNING
    assert world.fetches == []


def test_the_lock_is_released_after_a_run(account, world):
    run_sync(new_run(account))

    with sync_lock(account.pk) as lock:
        assert lock.held


def test_a_finished_run_is_not_run_again(account, world):
    run = run_sync(new_run(account))
    world.fetches.clear()

    run_sync(run)

    assert world.fetches == []


def test_a_root_sync_queues_syncs_of_its_subaccounts(tenant_a, world, django_capture_on_commit_callbacks):
    world.capabilities = frozenset({Capability.SUBACCOUNTS, Capability.MESSAGES})
    world.sizes = {"subaccounts": 2, "messages": 1}
    root = make_account(tenant_a, "Root")
    sub = make_account(tenant_a, "Sub", parent=root, remote_account_id="s1")
    make_account(tenant_a, "Off", parent=root, remote_account_id="s2", sync_enabled=False)

    with (
        mock.patch("providers.tasks.sync_account.apply_async") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_sync(new_run(root))

    queued = SyncRun.objects.get(account=sub)
    assert queued.status == SyncRun.Status.QUEUED
    delay.assert_called_once_with(kwargs={"run_id": queued.pk}, queue="sync_bulk")


def test_a_resource_the_account_cannot_list_is_skipped_not_failed(tenant_a, sandbox_account):
    from providers.models import SyncRun
    from providers.sync import run_sync

    account = sandbox_account(tenant_a, "jambonz", size=20)  # no service_provider_sid: no subaccounts
    run = SyncRun.objects.create(tenant=tenant_a, account=account)
    run_sync(run)
    run.refresh_from_db()
    assert run.resources["subaccounts"]["status"] == "skipped"
    assert run.status == "succeeded"
