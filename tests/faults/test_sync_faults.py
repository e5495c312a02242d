"""History sync under injected faults, for every provider × history resource × fault kind.

Whatever the fault, after the sync (and a second, fault-free one where a resource recorded an
error) the stored rows are exactly what a fault-free adapter lists, the rollups equal a
recount, and no secret reaches a stored row or a log line.
"""

from __future__ import annotations

import pytest

from providers.adapters.retry import READ_POLICY
from providers.models import SyncRun
from providers.sync import run_sync

from .conftest import (
    FAULT_KINDS,
    PROVIDERS,
    assert_no_secret_leaked,
    assert_rollups_match_a_recount,
    history_resources,
    listed_ids,
    new_run,
    stored_ids,
)

PAIRS = [(provider, resource) for provider in PROVIDERS for resource in history_resources(provider)]
# once: the first request fails; sometimes: 30% of requests fail (the sandbox's seeded
# random, so a run is repeatable); always: more failures in a row than the read retries.
MODES = {
    "once": {"count": 1},
    "sometimes": {"rate": 0.3},
    "always": {"count": READ_POLICY.max_attempts},
}
FAULT_OPTIONS = {"rate_limit": {"retry_after": 0}, "latency": {"latency": 5.0}}


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    """Histories of several pages, so a fault can land mid-history and a resume is exercised."""
    from providers.adapters import jambonz
    from providers.adapters.elks46 import client as elks46
    from providers.adapters.sipcentric import client as sipcentric

    monkeypatch.setattr(elks46, "PAGE_LIMIT", 4)
    monkeypatch.setattr(sipcentric, "MAX_PAGE_SIZE", 4)
    monkeypatch.setattr(jambonz.JambonzAdapter, "calls_page_size", 3)
    monkeypatch.setattr(jambonz.JambonzAdapter, "numbers_page_size", 2)


def _sync(account, resource: str) -> SyncRun:
    return run_sync(new_run(account), resources=[resource], enqueue_subaccounts=False)


def _fault(sandbox, provider: str, kind: str, mode: str):
    # Only the resource under test is synced, so every request the run makes is one of its own.
    return sandbox.faults.add(
        kind, provider=provider, endpoint="*", **MODES[mode], **FAULT_OPTIONS.get(kind, {})
    )


@pytest.mark.parametrize("mode", ["once", "sometimes"])
@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize(("provider", "resource"), PAIRS)
def test_a_sync_through_faults_stores_the_history_exactly(
    provider, resource, kind, mode, tenant_a, sandbox, history_account, caplog
):
    account = history_account(provider)
    expected = listed_ids(account, resource)
    rule = _fault(sandbox, provider, kind, mode)

    run = _sync(account, resource)
    if run.resources[resource]["status"] != "succeeded":
        assert run.resources[resource]["error"]
        sandbox.faults.clear()
        run = _sync(account, resource)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert rule.hits > 0 or mode == "sometimes"
    stored = stored_ids(account, resource)
    assert sorted(stored) == sorted(expected)
    assert len(set(stored)) == len(stored)
    assert_rollups_match_a_recount(tenant_a)
    assert_no_secret_leaked(account, caplog.text)


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "latency"])
@pytest.mark.parametrize(("provider", "resource"), PAIRS)
def test_a_resource_failing_past_its_retries_records_why_and_the_next_sync_completes_it(
    provider, resource, kind, tenant_a, sandbox, history_account, caplog
):
    account = history_account(provider)
    expected = listed_ids(account, resource)
    _fault(sandbox, provider, kind, "always")

    failed = _sync(account, resource)
    sandbox.faults.clear()
    rerun = _sync(account, resource)

    assert failed.status == SyncRun.Status.FAILED
    error = failed.resources[resource]["error"]
    assert error and failed.error == f"{resource}: {error}"
    assert "Internal error" not in error  # a provider fault is named as one, not as our crash
    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    assert sorted(stored_ids(account, resource)) == sorted(expected)
    assert_rollups_match_a_recount(tenant_a)
    assert_no_secret_leaked(account, caplog.text)


@pytest.mark.parametrize(("provider", "resource"), [p for p in PAIRS if p[1] in ("messages", "calls")])
def test_the_histories_under_fault_span_several_pages(provider, resource, history_account):
    run = _sync(history_account(provider), resource)

    assert run.resources[resource]["pages"] > 2
