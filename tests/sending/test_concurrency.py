"""Sends, delivery reports and caps of one tenant at once, each thread on its own Postgres
connection: the scenario that deadlocked on the shared rollup rows (every send and report
of a tenant updated the same DailyUsage row, in different lock orders)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.rls import tenant_context
from billing.models import BillingSettings
from billing.rebuild import current, recount
from messaging.importers import apply_message_status
from messaging.models import Message
from providers.adapters.records import MessageStatus, MessageStatusUpdate

from .conftest import sms_posts

THREADS = 8
PER_THREAD = 6

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def inline_sends(monkeypatch):
    """Each thread sends the queue inline (the batch sender), after its own commit."""
    from messaging import delivery, services

    monkeypatch.setattr(services, "kick_drain", lambda account_id: delivery.send_queued(account_id))


def _recipient(thread: int, i: int) -> str:
    return f"+467012{thread:02d}{i:03d}"


def _until_sent(ids: list[int]) -> None:
    """Another thread's batch may hold some of these in flight: wait (bounded) for their
    remote ids, as a delivery report would come after the provider's answer."""
    for _ in range(600):
        if not Message.objects.filter(pk__in=ids, remote_id="").exists():
            return
        time.sleep(0.05)


def _send_and_report(queue, thread: int) -> list[int]:
    """Queue and send PER_THREAD messages, then report each delivered, on this thread's connection."""
    try:
        with tenant_context(queue.tenant):  # the thread is a request (then a task) of the tenant
            ids = [queue(to=_recipient(thread, i), body=f"t{thread} m{i}").pk for i in range(PER_THREAD)]
            _until_sent(ids)
            for message in Message.objects.filter(pk__in=ids):
                update = MessageStatusUpdate(message.remote_id, MessageStatus.DELIVERED, "delivered")
                apply_message_status(message.provider_account, update)
        return ids
    finally:
        connection.close()


def test_concurrent_sends_and_delivery_reports_of_one_tenant_all_complete(queue, inline_sends):
    with ThreadPoolExecutor(THREADS) as pool:
        ids = [i for batch in pool.map(lambda t: _send_and_report(queue, t), range(THREADS)) for i in batch]

    assert len(ids) == THREADS * PER_THREAD
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"delivered"}


def test_concurrent_sends_reach_the_provider_exactly_once_each(queue, inline_sends, sandbox):
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda t: _send_and_report(queue, t), range(THREADS)))

    recipients = [entry.body for entry in sms_posts(sandbox)]
    expected = {_recipient(t, i) for t in range(THREADS) for i in range(PER_THREAD)}
    assert len(recipients) == len(expected)
    assert all(sum(r.count(f"to=%2B{n[1:]}") for r in recipients) == 1 for n in expected)


def test_rollups_equal_a_recount_after_concurrent_sends_and_reports(queue, inline_sends, tenant_a):
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda t: _send_and_report(queue, t), range(THREADS)))

    assert current(tenant_a) == recount(tenant_a)


def test_a_cap_lets_exactly_its_count_through_sixteen_concurrent_senders(queue, tenant_a, monkeypatch):
    from messaging import services
    from messaging.services import LimitExceeded

    monkeypatch.setattr(services, "kick_drain", lambda account_id: None)
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=10)

    def attempt(i: int) -> bool:
        try:
            with tenant_context(tenant_a):  # the thread is a request of tenant A
                queue(to=_recipient(99, i))
            return True
        except LimitExceeded:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(16) as pool:
        passed = sum(pool.map(attempt, range(48)))

    assert passed == 10 == Message.objects.filter(tenant=tenant_a).count()
