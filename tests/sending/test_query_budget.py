"""Query budgets of the hot paths: a send through the API, a batch of sends going out, a
delivery report arriving, a message list. Each is bounded, never one query per row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import delivery, services
from messaging.models import Message

from .conftest import RECIPIENT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_kick(monkeypatch):
    monkeypatch.setattr(services, "kick_drain", lambda account_id: None)


def _send_payload(elks, to=RECIPIENT):
    return {"provider_account": elks.pk, "from": elks.our_number, "to": to, "body": "Hello"}


def test_an_api_send_takes_at_most_five_queries(api_a, elks, django_assert_max_num_queries):
    api_a.post("/api/v1/messages/", _send_payload(elks, "+46705550000"), format="json")  # warm caches

    # the key (with its tenant), the account, the sender number, the billing settings, and
    # one statement storing the message with its ledger entry and audit row
    with django_assert_max_num_queries(5):
        response = api_a.post("/api/v1/messages/", _send_payload(elks), format="json")

    assert response.status_code == 202


def test_a_batch_of_forty_sends_takes_queries_per_batch_not_per_message(queue, elks):
    for i in range(40):
        queue(to=f"+4670555{i:04d}")

    with CaptureQueriesContext(connection) as queries:
        result = delivery.send_queued(elks.pk)

    assert result["sent"] == 40
    assert len(queries.captured_queries) <= 60


def test_a_delivery_report_takes_at_most_four_queries(client, queue, elks, django_assert_max_num_queries):
    queue()
    delivery.send_queued(elks.pk)
    remote_id = Message.objects.get().remote_id
    path = elks.webhook_url("dlr").replace("http://testserver", "")

    with django_assert_max_num_queries(4):
        response = client.post(path, {"id": remote_id, "status": "delivered"})

    assert response.status_code == 200


def test_a_message_list_takes_the_same_queries_for_five_rows_as_for_fifty(api_a, queue):
    for i in range(5):
        queue(to=f"+4670444{i:04d}")
    api_a.get("/api/v1/messages/")  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        api_a.get("/api/v1/messages/")
    for i in range(5, 50):
        queue(to=f"+4670444{i:04d}")

    with CaptureQueriesContext(connection) as many:
        response = api_a.get("/api/v1/messages/")

    assert len(response.json()["results"]) == 50
    assert len(many.captured_queries) == len(few.captured_queries)
