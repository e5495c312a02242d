"""Send-rate spacing, bulk sends and price estimates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from core import redis as core_redis
from messaging.bulk import bulk_send
from messaging.estimates import NoEstimate, estimate_message
from messaging.models import BulkSend, Message
from messaging.services import SendRejected, queue_message
from outbound import delivery

from .conftest import RECIPIENT, sms_posts


def test_sends_through_one_account_are_spaced_by_its_rate(
    tenant_a, account_for, sandbox, send_now, monkeypatch, settings
):
    account = account_for("46elks", send_rate=20.0)  # one every 50 ms
    interval = 1 / account.send_rate
    # The slot each send was handed, read back from Redis (the key holds the next free slot):
    # no wall-clock measurement, so a slow machine cannot make this fail.
    key = f"{settings.CACHES['default']['KEY_PREFIX']}:sendrate:{account.pk}"
    slots: list[float] = []
    real_wait = delivery.send_slot_wait

    def recorded_wait(acc):
        wait = real_wait(acc)
        slots.append(float(core_redis.client().get(key)) - interval)
        return wait

    monkeypatch.setattr(delivery, "send_slot_wait", recorded_wait)
    first = queue_message(tenant_a, account=account, from_number=account.our_number, to=RECIPIENT, body="1")
    second = queue_message(tenant_a, account=account, from_number="Switchbrd", to=RECIPIENT, body="2")

    send_now(first)
    send_now(second)

    assert len(sms_posts(sandbox)) == 2
    assert len(slots) == 2
    # Redis formats numbers with 14 significant digits (~0.1 ms at today's epoch).
    assert slots[1] - slots[0] >= interval - 0.001


def test_a_bulk_csv_queues_valid_rows_and_reports_bad_ones(tenant_a, elks, owner_a):
    csv = b"name,phone\nAda,+46701234567\nBob,not-a-number\n\nCy,+46709876543\nDee,+46701234567\n"

    bulk = bulk_send(tenant_a, elks, "Switchbrd", "Hello all", csv, created_by=owner_a)

    assert (bulk.total, bulk.queued) == (4, 2)
    assert bulk.invalid_rows == [
        {
            "line": 3,
            "value": "not-a-number",
            "reason": "'not-a-number' is not a phone number; use international format, e.g. +46701234567.",
        },
        {"line": 6, "value": "+46701234567", "reason": "Duplicate recipient."},
    ]
    assert sorted(bulk.messages.values_list("to_number", flat=True)) == ["+46701234567", "+46709876543"]


def test_submitting_the_same_bulk_again_creates_nothing(tenant_a, elks):
    first = bulk_send(tenant_a, elks, "Switchbrd", "Hello all", ["+46701234567", "+46709876543"])

    again = bulk_send(tenant_a, elks, "Switchbrd", "Hello all", ["+46701234567", "+46709876543"])

    assert again.pk == first.pk
    assert Message.objects.count() == 2 and BulkSend.objects.count() == 1


def test_bulk_progress_follows_its_messages(tenant_a, elks):
    recipients = ["+46701234567", "+46709870000", "+46709876543", "+46701112233"]
    bulk = bulk_send(tenant_a, elks, "Switchbrd", "Hi", recipients)
    assert bulk.progress["pending"] == 4 and not bulk.progress["done"]

    for to, status in zip(recipients, ["delivered", "failed", "sent", "sending"], strict=True):
        Message.objects.filter(to_number=to).update(status=status)

    assert bulk.progress == {
        "total": 4,
        "pending": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "unknown": 0,
        "done": False,
    }


def test_a_bulk_without_a_valid_recipient_is_refused(tenant_a, elks):
    with pytest.raises(SendRejected) as caught:
        bulk_send(tenant_a, elks, "Switchbrd", "Hi", ["nope"])

    assert caught.value.errors["recipients"] == ["No valid recipient."]
    assert BulkSend.objects.count() == 0


def test_46elks_estimate_is_a_dry_run_that_sends_nothing(elks, sandbox):
    estimate = estimate_message(elks, "Switchbrd", RECIPIENT, "x" * 200)

    assert (estimate.cost, estimate.currency, estimate.parts, estimate.source) == (
        Decimal("0.7"),
        "SEK",
        2,
        "dryrun",
    )
    (post,) = sms_posts(sandbox)
    assert "dryrun=yes" in post.body
    assert Message.objects.count() == 0


def test_without_a_dry_run_the_estimate_comes_from_recent_costs(tenant_a, account_for):
    account = account_for("sipcentric")
    for cost, parts in ((Decimal("0.04"), 1), (Decimal("0.16"), 2)):
        Message.objects.create(
            tenant=tenant_a,
            provider_account=account,
            direction="outbound",
            from_number="+1",
            to_number="+2",
            body="old",
            status="delivered",
            cost=cost,
            currency="GBP",
            parts=parts,
            remote_id=f"old{parts}",
            created_at=timezone.now(),
        )

    estimate = estimate_message(account, account.our_number, "+447912345678", "x" * 300)

    assert (estimate.cost, estimate.currency, estimate.parts, estimate.source) == (
        Decimal("0.1333"),  # 0.20 GBP over 3 parts, times 2
        "GBP",
        2,
        "history",
    )


def test_without_history_there_is_no_estimate_and_the_reason_says_why(account_for):
    account = account_for("jambonz")

    with pytest.raises(NoEstimate, match="No priced messages were sent through this account"):
        estimate_message(account, account.our_number, RECIPIENT, "Hi")


def test_a_bulk_row_with_stray_letters_is_reported_not_sent(tenant_a, elks):
    from messaging.bulk import bulk_send

    bulk = bulk_send(tenant_a, elks, elks.our_number, "Hi", ["+46701234567", "0701234567x"])

    assert bulk.queued == 1
    assert [row["line"] for row in bulk.invalid_rows] == [2]
