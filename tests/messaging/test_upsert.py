"""upsert_messages: the one write path of message history, page by page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection

from messaging.importers import upsert_messages
from messaging.models import Message
from providers.adapters.records import Direction, MessageStatus
from providers.ingest import UpsertResult, importer_for

from .conftest import T0, make_account, page, remote


def test_registered_as_the_messages_importer():
    assert importer_for("messages") is upsert_messages


def test_first_import_creates_every_record(account_a, tenant_a):
    result = upsert_messages(account_a, page(10))

    assert result == UpsertResult(created=10, updated=0)
    row = Message.objects.for_tenant(tenant_a).get(remote_id="s3")
    assert (row.direction, row.status, row.cost, row.currency, row.parts) == (
        "outbound",
        "delivered",
        Decimal("0.3500"),
        "SEK",
        1,
    )
    assert row.provider_account == account_a
    assert row.raw == {"id": "s3", "status": "delivered"}


def _tuple_versions() -> dict[int, str]:
    # A row's ctid moves whenever Postgres writes a new version of it.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, ctid::text FROM {Message._meta.db_table}")
        return dict(cursor.fetchall())


def test_rerun_changes_nothing(account_a):
    upsert_messages(account_a, page(10))
    before = _tuple_versions()

    result = upsert_messages(account_a, page(10))

    assert result == UpsertResult(created=0, updated=10)
    assert _tuple_versions() == before  # not even rewritten


def test_a_changed_record_is_rewritten(account_a):
    upsert_messages(account_a, page(2, status=MessageStatus.SENT))
    before = _tuple_versions()

    upsert_messages(account_a, page(2))

    after = _tuple_versions()
    assert after.keys() == before.keys()
    assert all(after[pk] != before[pk] for pk in before)


def test_overlapping_page_counts_new_and_existing(account_a):
    upsert_messages(account_a, page(10))

    assert upsert_messages(account_a, page(10, start=6)) == UpsertResult(created=5, updated=5)
    assert Message.objects.count() == 15


def test_duplicate_ids_within_a_page_make_one_row(account_a):
    records = [remote(1, status=MessageStatus.SENT), remote(1)]

    assert upsert_messages(account_a, records) == UpsertResult(created=1, updated=0)
    assert Message.objects.get().status == "delivered"


def test_records_without_remote_id_are_skipped(account_a):
    assert upsert_messages(account_a, [remote(1, remote_id="")]) == UpsertResult()
    assert not Message.objects.exists()


def test_same_remote_id_at_two_accounts_are_two_messages(account_a, account_b, tenant_a, tenant_b):
    upsert_messages(account_a, page(3))
    upsert_messages(account_b, page(3))

    assert Message.objects.for_tenant(tenant_a).count() == 3
    assert Message.objects.for_tenant(tenant_b).count() == 3


def test_late_sent_page_does_not_undo_delivered(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.DELIVERED, raw_status="delivered")])

    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT, raw_status="sent", raw={"stale": 1})])

    row = Message.objects.get()
    assert (row.status, row.raw_status, row.raw) == (
        "delivered",
        "delivered",
        {"id": "s1", "status": "delivered"},
    )


def test_status_advances_from_sent_to_delivered(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT, raw_status="sent")])
    delivered_at = T0 + timedelta(minutes=5)

    upsert_messages(account_a, [remote(1, delivered_at=delivered_at)])

    row = Message.objects.get()
    assert (row.status, row.delivered_at) == ("delivered", delivered_at)


def test_failed_is_final(account_a):
    upsert_messages(
        account_a, [remote(1, status=MessageStatus.FAILED, raw_status="failed", error="No route")]
    )

    upsert_messages(account_a, [remote(1, status=MessageStatus.DELIVERED)])

    row = Message.objects.get()
    assert (row.status, row.error) == ("failed", "No route")


def test_unknown_gives_way_to_a_known_status(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.UNKNOWN, raw_status="weird")])

    upsert_messages(account_a, [remote(1, status=MessageStatus.QUEUED, raw_status="created")])

    assert Message.objects.get().status == "queued"


def test_known_status_is_not_replaced_by_unknown(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT)])

    upsert_messages(account_a, [remote(1, status=MessageStatus.UNKNOWN, raw_status="weird")])

    assert Message.objects.get().status == "sent"


def test_provider_price_replaces_our_estimate(account_a, tenant_a):
    Message.objects.create(
        tenant=tenant_a,
        provider_account=account_a,
        direction="outbound",
        from_number="+46700000001",
        to_number="+46700000001",
        body="Hello 1",
        status="sent",
        remote_id="s1",
        cost=Decimal("0.5000"),
        currency="SEK",
        cost_estimated=True,
        created_at=T0,
    )

    upsert_messages(account_a, [remote(1, cost=Decimal("0.3500"))])

    row = Message.objects.get()
    assert (row.cost, row.currency, row.cost_estimated) == (Decimal("0.3500"), "SEK", False)


def test_known_cost_is_never_replaced_by_none(account_a):
    upsert_messages(account_a, [remote(1, cost=Decimal("0.3500"), parts=2)])

    upsert_messages(account_a, [remote(1, cost=None, currency="", parts=None)])

    row = Message.objects.get()
    assert (row.cost, row.currency, row.parts) == (Decimal("0.3500"), "SEK", 2)


def test_a_page_is_written_in_a_bounded_number_of_queries(account_a, django_assert_max_num_queries):
    account_a.tenant
    records = page(100)

    with django_assert_max_num_queries(4):  # reconcile, lock, upsert, rollups
        upsert_messages(account_a, records)
    with django_assert_max_num_queries(4):
        upsert_messages(account_a, page(100, status=MessageStatus.SENT, cost=Decimal("0.4")))
    assert Message.objects.count() == 100


def test_rows_of_a_subaccount_hang_off_the_root_account(account_a, tenant_a):
    sub = make_account(tenant_a, "Sub", parent=account_a, remote_account_id="sub1")

    upsert_messages(sub, page(2))

    assert set(Message.objects.values_list("provider_account_id", "subaccount_id")) == {
        (account_a.pk, sub.pk)
    }


def test_root_account_records_name_their_subaccount(account_a, tenant_a):
    sub = make_account(tenant_a, "Sub", parent=account_a, remote_account_id="sub1")

    upsert_messages(account_a, [remote(1, subaccount_remote_id="sub1"), remote(2)])

    assert dict(Message.objects.values_list("remote_id", "subaccount_id")) == {"s1": sub.pk, "s2": None}


def _unknown_send(tenant, account, n: int = 1, minutes: float = 0, **fields) -> Message:
    """A send of ours that timed out after the request left: no remote id, outcome unknown."""
    defaults = {
        "tenant": tenant,
        "provider_account": account,
        "direction": "outbound",
        "from_number": "+46700000001",
        "to_number": f"+4670{n:07d}",
        "body": f"Hello {n}",
        "status": "unknown",
        "remote_id": "",
        "idempotency_key": f"key-{n}-{minutes}",
        "cost": Decimal("0.5000"),
        "currency": "SEK",
        "cost_estimated": True,
        "created_at": T0 + timedelta(minutes=n + minutes),
    }
    defaults.update(fields)
    return Message.objects.create(**defaults)


def test_sync_attaches_its_remote_id_to_our_unknown_outcome_send(account_a, tenant_a):
    ours = _unknown_send(tenant_a, account_a, 1, minutes=-2)

    result = upsert_messages(account_a, [remote(1)])

    assert result == UpsertResult(created=0, updated=1)
    ours.refresh_from_db()
    assert (ours.remote_id, ours.status, ours.cost, ours.cost_estimated) == (
        "s1",
        "delivered",
        Decimal("0.35"),
        False,
    )
    assert ours.idempotency_key == "key-1--2"
    assert Message.objects.count() == 1


def test_unknown_send_outside_the_window_is_not_matched(account_a, tenant_a):
    ours = _unknown_send(tenant_a, account_a, 1, minutes=-11)

    assert upsert_messages(account_a, [remote(1)]) == UpsertResult(created=1, updated=0)

    ours.refresh_from_db()
    assert ours.remote_id == ""


def test_two_identical_unknown_sends_take_one_record_each(account_a, tenant_a):
    first = _unknown_send(tenant_a, account_a, 1, minutes=-1, body="Same", to_number="+46709999999")
    second = _unknown_send(tenant_a, account_a, 1, minutes=3, body="Same", to_number="+46709999999")
    records = [
        remote(1, remote_id="a", body="Same", to_number="+46709999999"),
        remote(1, remote_id="b", body="Same", to_number="+46709999999", created_at=T0 + timedelta(minutes=4)),
    ]

    assert upsert_messages(account_a, records) == UpsertResult(created=0, updated=2)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remote_id, second.remote_id) == ("a", "b")


def test_queued_sends_are_not_matched(account_a, tenant_a):
    # Not sent yet: the sender still owns it; taking a synced id would hide a real send.
    ours = _unknown_send(tenant_a, account_a, 1, status="queued")

    upsert_messages(account_a, [remote(1)])

    ours.refresh_from_db()
    assert ours.remote_id == ""
    assert Message.objects.count() == 2


def test_inbound_records_are_never_matched_to_sends(account_a, tenant_a):
    ours = _unknown_send(tenant_a, account_a, 1)

    upsert_messages(account_a, [remote(1, direction=Direction.INBOUND, status=MessageStatus.RECEIVED)])

    ours.refresh_from_db()
    assert ours.remote_id == ""
