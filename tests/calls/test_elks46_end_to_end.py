"""End to end against the 46elks sandbox: page through the real adapter, import, compare
with what the simulator holds."""

from __future__ import annotations

import pytest
from django.db import transaction

from calls import tasks
from calls.models import Call, CallLeg, Recording
from numbers.models import PhoneNumber
from providers.connect import open_adapter
from providers.ingest import UpsertResult, importer_for
from providers.models import ProviderAccount

from .test_rollups import recount, rollup

STATES = {"success": "completed", "busy": "busy", "failed": "failed"}


@pytest.fixture
def account(tenant_a, sandbox_account) -> ProviderAccount:
    return sandbox_account(tenant_a, "46elks", size=120)


@pytest.fixture
def sim(sandbox, account):
    sim_account = sandbox.find_account("46elks", **account.credentials)
    elks = sandbox.sims["46elks"]
    calls = [elks._seed(sim_account, "calls", i) for i in range(elks._count(sim_account, "calls"))]
    return sim_account, calls


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def import_all(account: ProviderAccount, resource: str) -> tuple[UpsertResult, int]:
    """Walk one resource to the end as a sync does: each page in its own transaction."""
    total, pages, cursor = UpsertResult(), 0, None
    with open_adapter(account) as adapter:
        while True:
            page = adapter.list_page(resource, cursor)
            with transaction.atomic():
                total += importer_for(resource)(account, page.items)
            pages += 1
            if page.done:
                return total, pages
            cursor = page.cursor


def import_everything(account: ProviderAccount) -> dict[str, UpsertResult]:
    return {r: import_all(account, r)[0] for r in ("numbers", "subaccounts", "calls", "recordings")}


def test_numbers_match_the_sandbox(account, sim):
    sim_account, _ = sim

    import_all(account, "numbers")

    numbers = PhoneNumber.objects.for_tenant(account.tenant)
    assert {(n.remote_id, n.number) for n in numbers} == {
        (n["id"], n["number"]) for n in sim_account.state["numbers"].values()
    }
    assert all(n.monthly_cost is not None and n.currency == "SEK" for n in numbers)
    assert numbers.filter(name="Support line").count() == 1


def test_subaccounts_become_children_that_can_log_in(account, sim):
    sim_account, _ = sim

    import_all(account, "subaccounts")

    children = ProviderAccount.objects.for_tenant(account.tenant).filter(parent=account)
    expected = {s["id"]: s["secret"] for s in sim_account.state["subaccounts"].values()}
    assert {c.remote_account_id: c.credentials["password"] for c in children} == expected
    with open_adapter(children[0]) as adapter:
        assert adapter.check_credentials().remote_id == children[0].remote_account_id


def test_calls_match_the_sandbox(account, sim):
    _, sim_calls = sim
    import_all(account, "numbers")

    result, _ = import_all(account, "calls")

    assert result.created == len(sim_calls) == Call.objects.for_tenant(account.tenant).count()
    stored = {c.remote_id: c for c in Call.objects.for_tenant(account.tenant)}
    for rec in sim_calls:
        call = stored[rec["id"]]
        assert (call.state, call.duration) == (STATES[rec["state"]], rec.get("duration"))
        assert call.number is not None  # every sandbox call uses one of the account's numbers
    assert CallLeg.objects.for_tenant(account.tenant).count() == sum(len(r["legs"]) for r in sim_calls)


def test_recordings_are_linked_and_fetched_into_storage(account, sim, media_root):
    _, sim_calls = sim
    with_recording = {r["_recording"]["id"]: r["id"] for r in sim_calls if "_recording" in r}
    import_all(account, "calls")

    import_all(account, "recordings")

    recordings = Recording.objects.for_tenant(account.tenant)
    assert {r.remote_id: r.call.remote_id for r in recordings} == with_recording
    for rec in recordings:
        tasks.fetch_recording.apply(args=[rec.pk])
    for rec in recordings.all():
        assert rec.fetch_status == "fetched"
        assert (media_root / rec.file.name).read_bytes()[:4] == b"RIFF"
        assert rec.size == (media_root / rec.file.name).stat().st_size


def test_a_second_full_import_creates_nothing_and_keeps_rollups(account):
    import_everything(account)
    before = rollup(account.tenant)

    again = import_everything(account)

    assert all(result.created == 0 for result in again.values())
    assert rollup(account.tenant) == before == recount(account.tenant)
