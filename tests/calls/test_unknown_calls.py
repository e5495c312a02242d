"""Our calls whose remote id we never learned (the provider's answer timed out after it placed
the call, a webhook beat the answer, Sipcentric click-to-dial answers without an id) are
reconciled with the provider's records: one call is one row, counted once in the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from billing.rebuild import current, recount
from calls.importers import upsert_calls
from calls.models import Call
from calls.services import UNKNOWN_OUTCOME, place_call
from calls.tasks import place_call_task
from numbers.models import PhoneNumber
from providers.adapters.records import CallState, Direction, RemoteCall
from providers.models import SyncRun
from providers.sync import run_sync

OUR_NUMBERS = {"46elks": "+46766861234", "jambonz": "+46766865555"}
RECIPIENT = "+46701234567"
UK_RECIPIENT = "+447911123457"
CALL_ENDPOINT = {"46elks": "POST /a1/calls", "jambonz": "POST /Accounts/*/Calls"}


@pytest.fixture
def eager(monkeypatch):
    """Tasks enqueued after commit (webhook processing) run inline."""
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def caller(tenant_a, sandbox_account, sandbox):
    """caller(provider) -> a sandbox account of tenant A holding `account.our_number`."""

    def make(provider: str):
        account = sandbox_account(tenant_a, provider, seed=3, size=5, send_rate=0)
        account.our_number = OUR_NUMBERS[provider]
        PhoneNumber.objects.create(
            tenant=tenant_a,
            number=account.our_number,
            provider_account=account,
            remote_id=f"held-{account.pk}",
            capabilities=["voice"],
        )
        sandbox.ledger.clear()
        return account

    return make


def dial(tenant, account, *, to: str = RECIPIENT, from_number: str | None = None) -> Call:
    call = place_call(
        tenant,
        account=account,
        from_number=from_number or account.our_number,
        to=to,
        action={"connect": "+46709876543"},
    )
    place_call_task.apply(args=[call.pk])
    call.refresh_from_db()
    return call


def timed_out_call(tenant, account, sandbox) -> Call:
    """The soak's scenario: the provider places the call, its answer never arrives."""
    sandbox.faults.add(
        "timeout", provider=account.provider, endpoint=CALL_ENDPOINT[account.provider], count=1
    )
    call = dial(tenant, account)
    assert call.state == "unknown" and call.remote_id == ""
    return call


def sync_calls(account) -> SyncRun:
    run = SyncRun.objects.create(
        tenant_id=account.tenant_id, account=account, trigger=SyncRun.Trigger.COMMAND
    )
    run = run_sync(run, resources=["calls"], enqueue_subaccounts=False)
    assert run.status == "succeeded", run.error
    return run


def calls_to(tenant, number: str = RECIPIENT):
    return Call.objects.for_tenant(tenant).filter(to_number=number)


def assert_rollups_match_a_recount(tenant) -> None:
    assert current(tenant) == {k: v for k, v in recount(tenant).items() if any(v)}


# -- end to end: the soak's scenario ---------------------------------------------------------------
@pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections between requests
@pytest.mark.parametrize("provider", ["jambonz", "46elks"])
def test_status_webhooks_complete_the_timed_out_call_instead_of_adding_one(
    provider, tenant_a, caller, sandbox, eager, deliver_webhooks
):
    account = caller(provider)
    call = timed_out_call(tenant_a, account, sandbox)

    assert deliver_webhooks()

    (row,) = calls_to(tenant_a)
    assert row.pk == call.pk and row.remote_id and row.state == "completed"
    assert "error" not in row.raw
    assert_rollups_match_a_recount(tenant_a)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", ["jambonz", "46elks"])
def test_a_sync_after_the_webhooks_changes_nothing(
    provider, tenant_a, caller, sandbox, eager, deliver_webhooks
):
    account = caller(provider)
    call = timed_out_call(tenant_a, account, sandbox)
    deliver_webhooks()
    before = Call.objects.get(pk=call.pk)

    sync_calls(account)

    (row,) = calls_to(tenant_a)
    assert (row.pk, row.remote_id) == (call.pk, before.remote_id)
    assert_rollups_match_a_recount(tenant_a)


@pytest.mark.parametrize("provider", ["jambonz", "46elks"])
def test_a_sync_alone_reconciles_the_timed_out_call(provider, tenant_a, caller, sandbox):
    account = caller(provider)
    call = timed_out_call(tenant_a, account, sandbox)

    sync_calls(account)

    (row,) = calls_to(tenant_a)
    assert row.pk == call.pk and row.remote_id and row.state != "unknown"
    assert row.raw["reconciled_from"] == "unknown"
    assert_rollups_match_a_recount(tenant_a)


def test_a_rerun_of_the_sync_changes_nothing(tenant_a, caller, sandbox):
    account = caller("46elks")
    timed_out_call(tenant_a, account, sandbox)
    sync_calls(account)
    stamp = list(Call.objects.for_tenant(tenant_a).values_list("pk", "updated_at").order_by("pk"))

    sync_calls(account)

    assert list(Call.objects.for_tenant(tenant_a).values_list("pk", "updated_at").order_by("pk")) == stamp


def test_sipcentric_click_to_dial_is_completed_by_the_sync(tenant_a, sandbox_account, sandbox):
    account = sandbox_account(tenant_a, "sipcentric", seed=3, size=5, send_rate=0)
    call = dial(tenant_a, account, to=UK_RECIPIENT, from_number="201")
    assert call.state == "requested" and call.remote_id == ""

    sync_calls(account)

    (row,) = calls_to(tenant_a, UK_RECIPIENT)
    assert row.pk == call.pk and row.remote_id.startswith("ast01-") and row.state == "completed"
    assert row.duration == 42 and row.cost is not None
    assert_rollups_match_a_recount(tenant_a)


# -- the matching rules, with records written directly ------------------------------------------------
def record(
    remote_id: str, created_at: datetime, *, to: str = RECIPIENT, frm: str = "+46766861234"
) -> RemoteCall:
    return RemoteCall(
        remote_id=remote_id,
        direction=Direction.OUTBOUND,
        from_number=frm,
        to_number=to,
        state=CallState.COMPLETED,
        raw_state="success",
        created_at=created_at,
        duration=10,
        cost=None,
        currency="",
    )


@pytest.fixture
def unknown_call(tenant_a, account_a):
    """unknown_call(at) -> one of our outbound calls whose outcome was hidden, attempted at `at`."""

    def make(at: datetime, *, to: str = RECIPIENT, state: str = "unknown", raw_state: str = "") -> Call:
        return Call.objects.create(
            tenant=tenant_a,
            provider_account=account_a,
            direction="outbound",
            from_number="+46766861234",
            to_number=to,
            state=state,
            raw_state=raw_state,
            created_at=at,
            send_attempts=1,
            last_attempt_at=at,
            error=UNKNOWN_OUTCOME,
        )

    return make


T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_each_record_takes_the_closest_unknown_call_once(account_a, unknown_call):
    first, second = unknown_call(T0), unknown_call(T0 + timedelta(minutes=4))

    # Both records are closest to `second`; the closer pair wins and `first` takes the other.
    result = upsert_calls(
        account_a, [record("r-x", T0 + timedelta(minutes=3)), record("r-y", T0 + timedelta(minutes=6))]
    )

    assert result.created == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remote_id, second.remote_id) == ("r-y", "r-x")


def test_a_record_outside_the_window_is_another_call(tenant_a, account_a, unknown_call):
    ours = unknown_call(T0)

    upsert_calls(account_a, [record("r-1", T0 + timedelta(minutes=11))])

    ours.refresh_from_db()
    assert ours.remote_id == "" and ours.state == "unknown"
    assert Call.objects.for_tenant(tenant_a).count() == 2


def test_a_record_to_another_number_is_another_call(tenant_a, account_a, unknown_call):
    ours = unknown_call(T0)

    upsert_calls(account_a, [record("r-1", T0, to="+46709999999")])

    ours.refresh_from_db()
    assert ours.remote_id == ""


def test_a_call_waiting_for_its_retry_is_not_matched(account_a, unknown_call):
    # The provider refused the attempt (5xx): a record to the same number is another call.
    waiting = unknown_call(T0, state="queued", raw_state="")

    upsert_calls(account_a, [record("r-1", T0)])

    waiting.refresh_from_db()
    assert waiting.remote_id == ""


def test_a_webhook_that_beats_the_answer_lands_on_the_call_in_flight(account_a, unknown_call):
    in_flight = unknown_call(T0, state="placing")

    upsert_calls(account_a, [record("r-1", T0 + timedelta(seconds=2))])

    in_flight.refresh_from_db()
    assert in_flight.remote_id == "r-1" and in_flight.state == "completed"


def test_another_tenants_unknown_call_is_never_matched(tenant_b, account_a, account_b):
    theirs = Call.objects.create(
        tenant=tenant_b,
        provider_account=account_b,
        direction="outbound",
        from_number="+46766861234",
        to_number=RECIPIENT,
        state="unknown",
        created_at=T0,
        send_attempts=1,
        last_attempt_at=T0,
    )

    upsert_calls(account_a, [record("r-1", T0)])

    theirs.refresh_from_db()
    assert theirs.remote_id == ""


# -- a later attempt's success ------------------------------------------------------------------------
def test_a_call_placed_after_a_failed_attempt_keeps_no_error(tenant_a, caller, sandbox, monkeypatch):
    from providers.adapters.retry import RetryPolicy

    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error=None: 0.0)
    account = caller("46elks")
    sandbox.faults.add("error", provider="46elks", endpoint=CALL_ENDPOINT["46elks"], status=503, count=1)

    call = dial(tenant_a, account)

    assert call.remote_id and call.send_attempts == 2
    assert call.error == ""


def test_an_attempt_that_fails_again_states_its_error(tenant_a, caller, sandbox):
    account = caller("46elks")
    call = place_call(
        tenant_a,
        account=account,
        from_number=account.our_number,
        to=RECIPIENT,
        action={"play": "https://x.test/a"},
    )
    Call.objects.filter(pk=call.pk).update(error="old", last_attempt_at=timezone.now())
    sandbox.faults.add("error", provider="46elks", endpoint=CALL_ENDPOINT["46elks"], status=400, count=1)

    place_call_task.apply(args=[call.pk])

    call.refresh_from_db()
    assert call.state == "failed" and call.error and call.error != "old"
