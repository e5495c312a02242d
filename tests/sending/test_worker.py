"""End to end with a real Celery worker over Redis: queue_message -> broker -> sent."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from messaging.models import Message
from messaging.services import queue_message

from .conftest import RECIPIENT, sms_posts


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_a_queued_message(tenant_a, elks, sandbox):
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["send", "default"]):
        message = queue_message(
            tenant_a, account=elks, from_number=elks.our_number, to=RECIPIENT, body="Live"
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message.refresh_from_db()
            # `sending` is also the claim, before the provider answered: wait for the answer.
            if message.remote_id or message.status not in ("queued", "sending"):
                break
            time.sleep(0.1)

    assert message.status == "sending" and message.remote_id
    assert Message.objects.count() == 1
    assert len(sms_posts(sandbox)) == 1
