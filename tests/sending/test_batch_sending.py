"""New sends go out in batches (outbound.batch): one worker claims an account's queued first
attempts together and sends them over one adapter. The rules of the per-row path hold:
one winner per claim, never twice, retries keep their own task and backoff."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.rls import tenant_context
from billing.models import BillingSettings, UsageCounter
from billing.rebuild import current, recount
from messaging import delivery, outbox, services
from messaging.bulk import bulk_send
from messaging.models import Message
from outbound import batch

from .conftest import sms_posts

pytestmark = pytest.mark.django_db(transaction=True)

SENT_LIKE = {"sending", "sent", "delivered"}


@pytest.fixture(autouse=True)
def no_kick(monkeypatch):
    """Tests drive the batch sender themselves."""
    monkeypatch.setattr(services, "kick_drain", lambda account_id: None)


def _queue_many(queue, count: int) -> list[int]:
    return [queue(to=f"+4670555{i:04d}", body=f"m{i}").pk for i in range(count)]


def test_a_drain_sends_every_queued_message(queue, elks):
    ids = _queue_many(queue, 12)

    result = delivery.send_queued(elks.pk)

    assert result["sent"] == 12 and result["done"]
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) <= SENT_LIKE
    assert not Message.objects.filter(pk__in=ids, remote_id="").exists()


def test_a_drain_sends_each_message_to_the_provider_once(queue, elks, sandbox):
    _queue_many(queue, 12)

    delivery.send_queued(elks.pk)
    delivery.send_queued(elks.pk)

    assert len(sms_posts(sandbox)) == 12


def test_a_drain_takes_batches_no_larger_than_the_setting(queue, elks, settings):
    settings.SEND_BATCH_SIZE = 5
    _queue_many(queue, 12)

    result = delivery.send_queued(elks.pk)

    assert result["batches"] == 3 and result["sent"] == 12


def test_a_small_batch_is_followed_by_a_pause_before_the_next_claim(queue, elks, settings):
    settings.SEND_BATCH_SIZE, settings.SEND_BATCH_PAUSE_MS = 10, 40
    _queue_many(queue, 3)
    pauses: list[float] = []

    with tenant_context(elks.tenant_id):
        result = batch.drain(outbox.OUTBOX, elks, sleep=pauses.append)

    assert result["sent"] == 3 and result["done"]
    assert 0.04 in pauses  # after the batch of 3 (under half of 10), before looking again


def test_a_full_batch_is_followed_by_the_next_claim_at_once(queue, elks, settings):
    settings.SEND_BATCH_SIZE, settings.SEND_BATCH_PAUSE_MS = 5, 40
    _queue_many(queue, 5)
    pauses: list[float] = []

    with tenant_context(elks.tenant_id):
        batch.drain(outbox.OUTBOX, elks, sleep=pauses.append)

    assert 0.04 not in pauses


def test_a_drain_leaves_a_message_waiting_for_its_retry_alone(queue, elks, sandbox):
    retrying = queue(to="+46705550001")
    Message.objects.filter(pk=retrying.pk).update(send_attempts=1)

    delivery.send_queued(elks.pk)

    assert Message.objects.get(pk=retrying.pk).status == "queued"
    assert sms_posts(sandbox) == []


def test_two_concurrent_drains_never_send_a_message_twice(queue, elks, sandbox, tenant_a):
    ids = _queue_many(queue, 30)

    def drain(_):
        try:
            with tenant_context(tenant_a):  # each thread is a task of tenant A
                return delivery.send_queued(elks.pk)["sent"]
        finally:
            connection.close()

    with ThreadPoolExecutor(3) as pool:
        sent = sum(pool.map(drain, range(3)))

    assert sent == 30 == len(sms_posts(sandbox))
    assert not Message.objects.filter(pk__in=ids, remote_id="").exists()


def test_rollups_equal_a_recount_after_a_drain(queue, elks, tenant_a):
    _queue_many(queue, 8)

    delivery.send_queued(elks.pk)

    assert current(tenant_a) == recount(tenant_a)


def test_a_drain_settles_each_reservation_once(queue, elks, tenant_a):
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=100)
    ids = _queue_many(queue, 6)

    delivery.send_queued(elks.pk)
    delivery.send_queued(elks.pk)

    assert UsageCounter.objects.get(tenant=tenant_a).messages == 6
    assert not Message.objects.filter(pk__in=ids, billing_reservation__isnull=False).exists()


def test_a_provider_outage_hands_the_rest_to_the_per_row_path(queue, elks, sandbox, monkeypatch, settings):
    settings.SEND_BATCH_IN_FLIGHT = 1
    ids = _queue_many(queue, 5)
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/sms", count=1, retry_after=0)
    handed = []
    monkeypatch.setattr(type(outbox.OUTBOX), "enqueue", lambda self, pk, countdown=None: handed.append(pk))

    result = delivery.send_queued(elks.pk)

    assert result["sent"] == 0 and sorted(handed) == ids
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"queued"}
    assert [post.fault for post in sms_posts(sandbox)] == ["error"]  # one attempt, refused


def test_a_message_handed_back_untried_stays_a_first_attempt(queue, elks, sandbox, monkeypatch, settings):
    settings.SEND_BATCH_IN_FLIGHT = 1
    first, second = _queue_many(queue, 2)
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/sms", count=1, retry_after=0)
    monkeypatch.setattr(type(outbox.OUTBOX), "enqueue", lambda self, pk, countdown=None: None)

    delivery.send_queued(elks.pk)

    assert Message.objects.get(pk=first).send_attempts == 1  # tried, waits for its retry
    assert Message.objects.get(pk=second).send_attempts == 0  # never tried


def test_sends_in_flight_when_one_fails_are_recorded_not_lost(queue, elks, sandbox, monkeypatch, settings):
    settings.SEND_BATCH_IN_FLIGHT = 4
    ids = _queue_many(queue, 8)
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/sms", count=1, retry_after=0)
    monkeypatch.setattr(type(outbox.OUTBOX), "enqueue", lambda self, pk, countdown=None: None)

    delivery.send_queued(elks.pk)

    taken = [post for post in sms_posts(sandbox) if not post.fault]
    stored = Message.objects.filter(pk__in=ids).exclude(remote_id="")
    assert len(taken) == stored.count() >= 1
    assert not Message.objects.filter(pk__in=ids, status="sending", remote_id="").exists()


def test_the_kick_is_debounced_per_account(settings, elks):
    settings.SEND_KICK_MS = 60_000
    batch.drained(elks.pk)

    assert [batch.should_kick(elks.pk) for _ in range(3)] == [True, False, False]
    batch.drained(elks.pk)
    assert batch.should_kick(elks.pk)


def test_a_bulk_send_goes_out_through_the_batch_sender(tenant_a, elks, sandbox):
    recipients = [f"+4670666{i:04d}" for i in range(20)]
    bulk = bulk_send(tenant_a, elks, "Switchbrd", "Hello all", recipients)

    delivery.send_queued(elks.pk)

    assert len(sms_posts(sandbox)) == 20
    assert not Message.objects.filter(bulk_send=bulk, status="queued").exists()


def test_a_bulk_send_starts_its_batch_senders_once_stored(tenant_a, elks, settings, monkeypatch,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    from messaging import tasks

    started = []
    monkeypatch.setattr(tasks.send_queued, "delay", started.append)
    settings.SEND_BULK_SENDERS = 2

    with django_capture_on_commit_callbacks(execute=True):
        bulk_send(tenant_a, elks, "Switchbrd", "Hello all", ["+46701234567", "+46709876543"])

    assert started == [elks.pk, elks.pk]


def test_a_batch_past_its_hold_limit_hands_the_rest_back_unsent(queue, elks, sandbox, monkeypatch):
    ids = _queue_many(queue, 3)
    monkeypatch.setattr(batch, "hold_limit", lambda: -1.0)  # already past it
    handed = []
    monkeypatch.setattr(type(outbox.OUTBOX), "enqueue", lambda self, pk, countdown=None: handed.append(pk))

    delivery.send_queued(elks.pk)

    assert sorted(handed) == ids and sms_posts(sandbox) == []
    assert set(Message.objects.filter(pk__in=ids).values_list("status", "send_attempts")) == {("queued", 0)}


def test_the_hold_limit_stays_well_under_the_sweepers_stale_limit(settings):
    settings.SEND_SENDING_STALE_SECONDS = 40

    assert batch.hold_limit() == 10
