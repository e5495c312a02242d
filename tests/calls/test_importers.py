"""calls.importers.upsert_calls / apply_call_status: one write path, forward-only, set-based."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from calls.importers import apply_call_status, upsert_calls, upsert_recordings
from calls.models import Call, CallLeg
from numbers.importers import upsert_numbers
from providers.adapters.records import CallState, Direction, EventType, InboundEvent, RemoteNumber
from providers.ingest import UpsertResult, handler_for, importer_for

from .factories import call, leg


def test_registered_as_importers_and_call_status_handler():
    assert importer_for("calls") is upsert_calls
    assert importer_for("recordings") is upsert_recordings
    assert handler_for(EventType.CALL_STATUS) is apply_call_status


def test_first_import_creates_calls_with_their_legs(account_a):
    result = upsert_calls(account_a, [call(1), call(2)])

    assert result == UpsertResult(created=2, updated=0)
    c1 = Call.objects.for_tenant(account_a.tenant).get(remote_id="c1")
    assert (c1.state, c1.duration, c1.cost, c1.currency) == ("completed", 60, Decimal("1.2500"), "SEK")
    assert c1.provider_account == account_a and c1.raw["id"] == "c1"
    assert list(c1.legs.values_list("position", "to_number")) == [(0, "+46701110001"), (1, "+46701110002")]


def test_rerun_changes_nothing(account_a):
    records = [call(i) for i in range(10)]
    upsert_calls(account_a, records)
    snapshot = [{**c, "updated_at": None} for c in Call.objects.order_by("id").values()]

    result = upsert_calls(account_a, records)

    assert result == UpsertResult(created=0, updated=10)
    assert [{**c, "updated_at": None} for c in Call.objects.order_by("id").values()] == snapshot
    assert CallLeg.objects.count() == 20


def test_rerun_rewrites_no_legs(account_a):
    records = [call(i, legs=[leg(1, raw={"id": f"l{i}"}), leg(2)]) for i in range(3)]
    upsert_calls(account_a, records)
    before = list(CallLeg.objects.order_by("id").values_list("id", flat=True))

    upsert_calls(account_a, records)

    assert list(CallLeg.objects.order_by("id").values_list("id", flat=True)) == before


def test_state_never_moves_backwards(account_a):
    upsert_calls(account_a, [call(1, CallState.COMPLETED)])

    upsert_calls(
        account_a, [call(1, CallState.RINGING, raw_state="ringing", legs=[leg(1, CallState.RINGING)])]
    )

    c1 = Call.objects.get(remote_id="c1")
    assert (c1.state, c1.raw_state, c1.duration) == ("completed", "completed", 60)
    assert list(c1.legs.values_list("state", flat=True)) == ["completed", "completed"]


def test_state_moves_forward_through_ringing_and_in_progress(account_a):
    seen = []
    for state in (CallState.RINGING, CallState.IN_PROGRESS, CallState.COMPLETED):
        upsert_calls(account_a, [call(1, state)])
        seen.append(Call.objects.get(remote_id="c1").state)

    assert seen == ["ringing", "in_progress", "completed"]


def test_the_first_final_state_is_kept(account_a):
    upsert_calls(account_a, [call(1, CallState.BUSY)])

    upsert_calls(account_a, [call(1, CallState.COMPLETED)])

    assert Call.objects.get(remote_id="c1").state == "busy"


def test_legs_are_replaced_not_duplicated(account_a):
    upsert_calls(account_a, [call(1, legs=[leg(1), leg(2), leg(3)])])

    upsert_calls(account_a, [call(1, legs=[leg(7)])])

    assert list(CallLeg.objects.values_list("position", "to_number")) == [(0, "+46701110007")]


def test_provider_cost_replaces_our_estimate(account_a):
    upsert_calls(account_a, [call(1, CallState.RINGING)])
    Call.objects.filter(remote_id="c1").update(cost=Decimal("9.9900"), currency="SEK", cost_estimated=True)

    upsert_calls(account_a, [call(1, CallState.RINGING, cost=Decimal("0.5000"), currency="SEK")])

    c1 = Call.objects.get(remote_id="c1")
    assert (c1.cost, c1.cost_estimated) == (Decimal("0.5000"), False)


def test_unknown_cost_never_erases_a_known_one(account_a):
    upsert_calls(account_a, [call(1)])

    upsert_calls(account_a, [call(1, cost=None, currency="")])

    c1 = Call.objects.get(remote_id="c1")
    assert (c1.cost, c1.currency) == (Decimal("1.2500"), "SEK")


def test_our_number_is_linked_by_our_side_of_the_call(account_a):
    upsert_numbers(account_a, [RemoteNumber(remote_id="n1", number="+46700000001")])

    upsert_calls(
        account_a,
        [
            call(1, direction=Direction.OUTBOUND, from_number="+46700000001", to_number="+46709999999"),
            call(2, direction=Direction.INBOUND, from_number="+46709999999", to_number="+46700000001"),
            call(3, direction=Direction.INBOUND, from_number="+46700000001", to_number="+46709999999"),
        ],
    )

    linked = dict(Call.objects.values_list("remote_id", "number__remote_id"))
    assert linked == {"c1": "n1", "c2": "n1", "c3": None}


def test_numbers_of_another_tenant_are_never_linked(account_a, account_b):
    upsert_numbers(account_b, [RemoteNumber(remote_id="n1", number="+46700000001")])

    upsert_calls(account_a, [call(1)])

    assert Call.objects.get(remote_id="c1").number is None


def test_records_without_remote_id_are_skipped(account_a):
    assert upsert_calls(account_a, [call(1, remote_id="")]) == UpsertResult()
    assert not Call.objects.exists()


def test_a_page_is_written_with_a_bounded_number_of_queries(account_a, django_assert_max_num_queries):
    page = [call(i, legs=[leg(1), leg(2), leg(3)]) for i in range(200)]
    upsert_calls(account_a, [call(0)])  # one existing row: the update path is taken too

    # 13, whatever the page size: the COPY to the staging table and the prune of unchanged
    # records are one each, the stored legs are read once to skip unchanged sets, and the
    # reconciliation of our own unresolved calls is one query on a page that matches none.
    with django_assert_max_num_queries(13):
        upsert_calls(account_a, page)

    assert Call.objects.count() == 200 and CallLeg.objects.count() == 600


# -- call status webhooks -----------------------------------------------------------------
def status_event(remote_call) -> InboundEvent:
    return InboundEvent(EventType.CALL_STATUS, None, call=remote_call)


def test_call_status_webhook_advances_the_call(account_a):
    upsert_calls(account_a, [call(1, CallState.RINGING)])
    hangup = call(1, CallState.COMPLETED, legs=[], raw={"result": "hangup"})

    assert apply_call_status(account_a, status_event(hangup)) is True

    c1 = Call.objects.get(remote_id="c1")
    assert (c1.state, c1.duration) == ("completed", 60)
    assert c1.raw == {"id": "c1", "state": "ringing", "result": "hangup"}  # merged, newest wins


def test_replayed_call_status_webhook_changes_nothing(account_a):
    hangup = call(1, CallState.COMPLETED)
    apply_call_status(account_a, status_event(hangup))

    assert apply_call_status(account_a, status_event(hangup)) is False
    assert Call.objects.count() == 1


def test_late_ringing_webhook_after_hangup_changes_nothing(account_a):
    apply_call_status(account_a, status_event(call(1, CallState.COMPLETED)))

    late = call(1, CallState.RINGING, created_at=datetime(2024, 3, 1, 12, 1, 5, tzinfo=UTC))
    assert apply_call_status(account_a, status_event(late)) is False
    assert Call.objects.get(remote_id="c1").state == "completed"


def test_partial_webhook_does_not_blank_known_fields(account_a):
    upsert_calls(account_a, [call(1, CallState.IN_PROGRESS, actions=[{"connect": "+46701"}])])
    partial = call(1, CallState.COMPLETED, from_number="", to_number="", legs=[], actions=[], raw={})

    apply_call_status(account_a, status_event(partial))

    c1 = Call.objects.get(remote_id="c1")
    assert (c1.from_number, c1.to_number) == ("+46700000001", "+46702220001")
    assert c1.actions == [{"connect": "+46701"}]
    assert c1.legs.count() == 2
