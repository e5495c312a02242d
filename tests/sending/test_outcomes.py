"""What a send's attempts end in: retried, failed, unknown, never sent twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from messaging.delivery import sweep_queued
from messaging.models import Message
from providers import tasks as provider_tasks
from providers.sync import run_sync

from .conftest import sms_posts


def test_rate_limited_once_then_sent(queue, sandbox, send_now):
    sandbox.faults.add("rate_limit", provider="46elks", endpoint="POST /a1/sms", count=1, retry_after=0)

    message = send_now(queue())

    assert [post.fault for post in sms_posts(sandbox)] == ["rate_limit", ""]
    assert (message.status, message.send_attempts) == ("sending", 2)
    assert message.remote_id


def test_503_until_retries_run_out_fails_with_the_reason(queue, sandbox, send_now):
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/sms", status=503)

    message = send_now(queue())

    assert len(sms_posts(sandbox)) == 5
    assert message.status == "failed"
    assert message.error == "Gave up after 5 attempts: 46elks answered HTTP 503."
    assert message.billing_reservation is None


def test_a_500_may_hide_a_send_so_it_is_unknown_not_retried(queue, sandbox, send_now):
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/sms", status=500)

    message = send_now(queue())

    assert len(sms_posts(sandbox)) == 1
    assert message.status == "unknown"


def test_a_connect_failure_before_the_request_left_is_retried(queue, sandbox, send_now, monkeypatch):
    from providers.adapters.elks46 import Elks46Adapter
    from providers.adapters.errors import Unavailable

    calls = []
    real = Elks46Adapter.send_sms

    def flaky(self, request):
        calls.append(request)
        if len(calls) == 1:
            raise Unavailable("Could not connect to the provider.", request_sent=False)
        return real(self, request)

    monkeypatch.setattr(Elks46Adapter, "send_sms", flaky)

    message = send_now(queue())

    assert len(calls) == 2 and len(sms_posts(sandbox)) == 1
    assert message.status == "sending"


def test_timeout_after_the_request_is_unknown_and_a_sync_reconciles_it(queue, sandbox, send_now, elks):
    sandbox.faults.add("timeout", provider="46elks", endpoint="POST /a1/sms", count=1)

    message = send_now(queue(body="Reconcile me"))
    assert (message.status, message.remote_id) == ("unknown", "")

    run = run_sync(provider_tasks.start_sync(elks, "command"), resources=["messages"])

    assert run.status == "succeeded"
    message.refresh_from_db()
    assert message.remote_id.startswith("s")
    assert message.status in ("sending", "sent", "delivered")
    assert message.cost == Decimal("0.35") and not message.cost_estimated
    assert Message.objects.filter(body="Reconcile me").count() == 1
    assert len(sms_posts(sandbox)) == 1  # never sent again


def test_a_redelivered_task_after_a_worker_died_mid_send_does_not_send_again(queue, sandbox, send_now):
    message = queue()
    # The dead worker's claim: it had moved the message to sending (and maybe sent it).
    Message.objects.filter(pk=message.pk).update(
        status="sending", send_attempts=1, last_attempt_at=timezone.now()
    )
    sandbox.ledger.clear()

    message = send_now(message)

    assert message.status == "unknown"
    assert "interrupted" in message.error
    assert sandbox.ledger.count() == 0


def test_a_duplicate_task_after_the_send_changes_nothing(queue, sandbox, send_now):
    message = send_now(queue())

    again = send_now(message)

    assert (again.status, again.remote_id, again.send_attempts) == (
        message.status,
        message.remote_id,
        1,
    )
    assert len(sms_posts(sandbox)) == 1


def test_the_sweeper_re_enqueues_a_stale_queued_message(queue, monkeypatch):
    from messaging import outbox

    fresh = queue()
    stale = queue(to="+46709876543")
    Message.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=15))
    enqueued = []
    monkeypatch.setattr(outbox, "enqueue_send", lambda pk, countdown=None: enqueued.append(pk))

    touched = sweep_queued()

    assert enqueued == [stale.pk] == touched["requeued"]
    assert fresh.pk not in enqueued


def test_the_sweeper_marks_a_send_stuck_without_a_worker_unknown(queue):
    message = queue()
    Message.objects.filter(pk=message.pk).update(
        status="sending", last_attempt_at=timezone.now() - timedelta(hours=1)
    )

    assert sweep_queued()["unknown"] == [message.pk]
    message.refresh_from_db()
    assert message.status == "unknown"


def test_a_send_whose_worker_died_minutes_ago_becomes_unknown_on_the_next_sweep(queue):
    message = queue()
    Message.objects.filter(pk=message.pk).update(
        status="sending", last_attempt_at=timezone.now() - timedelta(minutes=3)
    )

    assert sweep_queued()["unknown"] == [message.pk]


def test_a_send_still_within_its_provider_timeout_is_left_to_its_worker(queue):
    message = queue()
    Message.objects.filter(pk=message.pk).update(
        status="sending", last_attempt_at=timezone.now() - timedelta(seconds=30)
    )

    assert sweep_queued()["unknown"] == []
