"""Idempotency keys and usage limits at queue time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.models import AuditLog
from billing.limits import LimitExceeded
from billing.models import BillingSettings, UsageCounter
from messaging.models import Message
from messaging.services import IdempotencyConflict

from .conftest import sms_posts


def test_same_key_and_payload_return_the_same_message_and_send_once(queue, sandbox, send_now):
    first = send_now(queue(idempotency_key="order-1"))

    again = queue(idempotency_key="order-1")
    send_now(again)

    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert len(sms_posts(sandbox)) == 1


def test_same_key_with_another_payload_is_a_conflict(queue):
    queue(idempotency_key="order-1")

    with pytest.raises(IdempotencyConflict, match="order-1"):
        queue(idempotency_key="order-1", body="Something else")

    assert Message.objects.count() == 1


def test_keys_belong_to_their_tenant(queue, tenant_b, sandbox_account):
    from messaging.services import queue_message
    from numbers.models import PhoneNumber

    queue(idempotency_key="shared")
    account_b = sandbox_account(tenant_b, "46elks")
    PhoneNumber.objects.create(
        tenant=tenant_b, number="+46766869999", provider_account=account_b, remote_id="b"
    )

    theirs = queue_message(
        tenant_b,
        account=account_b,
        from_number="+46766869999",
        to="+46701234567",
        body="Hi",
        idempotency_key="shared",
    )

    assert theirs.tenant_id == tenant_b.pk and Message.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_store_one_message(queue, monkeypatch, tenant_a):
    from accounts.rls import tenant_context
    from messaging import services

    monkeypatch.setattr(services, "kick_drain", lambda account_id: None)

    def attempt(_):
        try:
            with tenant_context(tenant_a):  # each thread is a request of tenant A
                return queue(idempotency_key="race").pk
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(attempt, range(8)))

    assert len(ids) == 1 and Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_losers_of_an_idempotency_race_leave_no_ledger_entry_or_audit_row(queue, monkeypatch, tenant_a):
    from accounts.rls import tenant_context
    from billing.models import UsageEntry
    from messaging import services

    monkeypatch.setattr(services, "kick_drain", lambda account_id: None)

    def attempt(_):
        try:
            with tenant_context(tenant_a):
                return queue(idempotency_key="race").pk
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        (message_id,) = set(pool.map(attempt, range(8)))

    assert [e.object_id for e in AuditLog.objects.filter(action="message.queue")] == [str(message_id)]
    assert [e.count for e in UsageEntry.objects.all()] == [1]


def test_queueing_writes_an_audit_entry(queue, owner_a):
    message = queue(created_by=owner_a)

    entry = AuditLog.objects.get(action="message.queue")
    assert (entry.actor, entry.object_id) == (owner_a, str(message.pk))


def test_the_monthly_message_cap_blocks_with_a_clear_error_and_nothing_is_stored(
    queue, tenant_a, sandbox, django_capture_on_commit_callbacks
):
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=1)
    queue()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(LimitExceeded) as caught:
        queue(to="+46709876543")

    assert caught.value.message == (
        "This month's usage limit (1 messages) has been reached; the message was not sent."
    )
    assert Message.objects.count() == 1 and callbacks == []
    assert sandbox.ledger.count() == 0
    assert UsageCounter.objects.get(tenant=tenant_a).messages == 1


def test_a_replay_after_the_cap_is_reached_returns_the_stored_message(queue, tenant_a):
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=1)
    first = queue(idempotency_key="k1")

    again = queue(idempotency_key="k1")

    assert again.pk == first.pk
    assert UsageCounter.objects.get(tenant=tenant_a).messages == 1


def test_a_replay_under_the_cap_takes_nothing_from_it(queue, tenant_a):
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=5)
    first = queue(idempotency_key="k1")

    queue(idempotency_key="k1")

    assert UsageCounter.objects.get(tenant=tenant_a).messages == 1 and Message.objects.count() == 1
    assert first.pk == Message.objects.get().pk


def test_a_failed_send_gives_its_message_back_to_the_cap(queue, tenant_a, sandbox, send_now):
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=1)
    sandbox.faults.add("error", provider="46elks", endpoint="POST /a1/sms", status=503)
    send_now(queue())

    assert UsageCounter.objects.get(tenant=tenant_a).messages == 0
    sandbox.faults.clear()
    assert send_now(queue(to="+46709876543")).status == "sending"


def test_a_subaccount_over_its_limit_cannot_send(queue, elks, tenant_a):
    from decimal import Decimal

    from providers.models import ProviderAccount

    sub = ProviderAccount(
        tenant=tenant_a,
        provider="46elks",
        name="Sub",
        parent=elks,
        remote_account_id="sub1",
        usage=Decimal("10"),
        usage_limit=Decimal("5"),
    )
    sub.set_credentials({"username": "sub", "password": "pw"})
    sub.save()

    with pytest.raises(LimitExceeded, match="Sub has reached its usage limit of 5"):
        queue(account=sub)
    assert Message.objects.count() == 0
