"""The outbound layer's state machine, one behaviour per test, for a message and a call:
claimed once, never sent twice, retried only when the provider surely did not take it,
and an outcome that is never lost (see outbound.delivery)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from billing.models import BillingSettings, UsageCounter
from outbound import delivery
from outbound.checks import IdempotencyConflict
from providers.models import ProviderAccount


def test_a_queued_send_reaches_the_provider_once(subject):
    row = subject.queue()

    outcome = subject.attempt(row)

    row.refresh_from_db()
    assert outcome.status == subject.box.status_of(row) != subject.box.queued
    assert row.remote_id and row.send_attempts == 1 and row.error == ""
    assert subject.posted() == 1


def test_a_redelivered_send_becomes_unknown(subject):
    row = subject.queue()
    subject.set_status(row, subject.sending, send_attempts=1, last_attempt_at=timezone.now())

    outcome = subject.attempt(row)

    assert outcome.status == subject.status(row) == "unknown"
    assert row.error == subject.box.redelivered
    assert subject.posted() == 0


def test_a_second_attempt_at_a_sent_row_does_nothing(subject):
    row = subject.queue()
    subject.attempt(row)

    again = subject.attempt(row)

    assert again.detail == "not queued; nothing to do" and subject.posted() == 1


def test_the_same_key_and_request_return_the_same_row(subject):
    first = subject.queue(idempotency_key="k-1")

    again = subject.queue(idempotency_key="k-1")

    assert again.pk == first.pk and len(subject.rows_to()) == 1


def test_the_same_key_with_another_request_is_a_conflict(subject):
    subject.queue(idempotency_key="k-1")

    with pytest.raises(IdempotencyConflict):
        subject.queue(idempotency_key="k-1", to="+46709876543")


def test_a_refused_send_fails_with_the_providers_reason(subject):
    row = subject.queue()
    subject.fault("error", status=400)

    outcome = subject.attempt(row)

    assert outcome.status == subject.status(row) == "failed"
    assert row.error and row.remote_id == ""


def test_a_send_the_provider_did_not_take_is_queued_again_for_a_retry(subject):
    row = subject.queue()
    subject.fault("error", status=503)

    outcome = subject.attempt(row)

    assert outcome.status == subject.status(row) == subject.box.queued
    assert outcome.retry_in is not None and row.error


def test_a_rate_limited_send_waits_at_least_the_providers_retry_after(subject):
    row = subject.queue()
    subject.fault("rate_limit", retry_after=7)

    outcome = subject.attempt(row)

    assert outcome.status == subject.box.queued and outcome.retry_in >= 7


def test_a_send_that_may_have_been_taken_is_unknown_and_not_retried(subject):
    row = subject.queue()
    subject.fault("timeout")

    outcome = subject.attempt(row)

    assert outcome.status == subject.status(row) == "unknown" and outcome.retry_in is None
    assert subject.posted() == 1


def test_a_send_of_an_account_being_deleted_never_reaches_the_provider(subject):
    row = subject.queue()
    ProviderAccount.objects.filter(pk=subject.account.pk).update(status=ProviderAccount.Status.DELETING)

    outcome = subject.attempt(row)

    assert outcome.status == subject.status(row) == "failed"
    assert row.error == delivery.DELETING and subject.posted() == 0


# -- durability: the provider took it, the database did not take the outcome ------------------------
class FailedWrites(list):
    """The outcome writes that failed (a row id each); `stop()` lets the next ones through."""

    stopped = False

    def stop(self) -> None:
        self.stopped = True


def _failing_writes(monkeypatch, times: int | None) -> FailedWrites:
    """Outcome writes raise OperationalError (the connection is lost): the first `times` of
    them, or all (None) until `stop()`."""
    real = delivery.move
    failed = FailedWrites()

    def move(box, pk, expect, **values):
        if not failed.stopped and (times is None or len(failed) < times):
            failed.append(pk)
            raise OperationalError("the connection is lost")
        return real(box, pk, expect, **values)

    monkeypatch.setattr(delivery, "move", move)
    return failed


def test_an_outcome_write_that_fails_once_is_retried(subject, monkeypatch):
    row = subject.queue()
    failed = _failing_writes(monkeypatch, times=1)

    subject.attempt(row)

    row.refresh_from_db()
    assert failed == [row.pk] and row.remote_id and subject.posted() == 1


def test_an_outcome_that_cannot_be_written_stays_sending_with_the_answer_kept(subject, monkeypatch):
    row = subject.queue()
    _failing_writes(monkeypatch, times=None)

    outcome = subject.attempt(row)

    assert outcome.status == subject.status(row) == subject.sending and row.remote_id == ""
    assert outcome.retry_in is not None
    kept = delivery.kept_result(subject.box, row.pk)
    assert kept is not None and kept.remote_id == outcome.extra["remote_id"]


def test_the_retry_writes_the_kept_answer_without_sending_again(subject, monkeypatch):
    row = subject.queue()
    failing = _failing_writes(monkeypatch, times=None)
    remote_id = subject.attempt(row).extra["remote_id"]
    failing.stop()

    subject.attempt(row)

    row.refresh_from_db()
    assert row.remote_id == remote_id and subject.posted() == 1
    assert delivery.kept_result(subject.box, row.pk) is None


def test_the_sweeper_writes_a_kept_answer(subject, monkeypatch):
    row = subject.queue()
    failing = _failing_writes(monkeypatch, times=None)
    remote_id = subject.attempt(row).extra["remote_id"]
    failing.stop()

    touched = delivery.sweep(subject.box)  # at once: no need to wait for a stuck worker

    row.refresh_from_db()
    assert touched["recovered"] == [row.pk] and row.remote_id == remote_id
    assert subject.box.status_of(row) != "unknown"


def test_the_sweeper_makes_a_stuck_send_without_a_kept_answer_unknown(subject):
    row = subject.queue()
    subject.set_status(row, subject.sending, send_attempts=1, last_attempt_at=timezone.now())

    touched = delivery.sweep(subject.box, now=timezone.now() + timedelta(hours=1))

    assert touched["unknown"] == [row.pk] and subject.status(row) == "unknown"


def test_the_sync_matches_a_send_left_sending_instead_of_adding_a_twin(subject, monkeypatch):
    row = subject.queue()
    failing = _failing_writes(monkeypatch, times=None)
    monkeypatch.setattr(delivery, "keep_result", lambda box, pk, result: False)  # Redis lost it too
    remote_id = subject.attempt(row).extra["remote_id"]
    failing.stop()
    assert subject.status(row) == subject.sending and row.remote_id == ""

    subject.sync()

    (only,) = subject.rows_to()
    assert only.pk == row.pk and only.remote_id == remote_id
    assert subject.box.status_of(only) not in (subject.sending, "unknown")  # the provider's word


def test_a_reconciled_sends_reservation_is_settled_once(
    tenant_a, subject, monkeypatch, django_capture_on_commit_callbacks
):
    if subject.name != "message":
        pytest.skip("calls reserve nothing that a send settles")
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=5)
    row = subject.queue()
    failing = _failing_writes(monkeypatch, times=None)
    monkeypatch.setattr(delivery, "keep_result", lambda box, pk, result: False)
    subject.attempt(row)
    failing.stop()

    with django_capture_on_commit_callbacks(execute=True):
        subject.sync()
    delivery.sweep(subject.box, now=timezone.now() + timedelta(hours=1))
    subject.attempt(row)

    row.refresh_from_db()
    assert row.remote_id and row.billing_reservation is None
    assert UsageCounter.objects.get(tenant=tenant_a).messages == 1
