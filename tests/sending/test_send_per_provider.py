"""The happy path through each provider's sandbox: the exact request, then our row."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from messaging.models import Message
from messaging.services import queue_message

from .conftest import RECIPIENT, sms_posts


def test_46elks_send_posts_the_form_and_records_id_parts_and_cost(tenant_a, elks, sandbox, send_now):
    message = send_now(
        queue_message(tenant_a, account=elks, from_number=elks.our_number, to=RECIPIENT, body="Hej då")
    )

    (post,) = sms_posts(sandbox)
    assert parse_qs(post.body) == {
        "from": [elks.our_number],
        "to": [RECIPIENT],
        "message": ["Hej då"],
        "whendelivered": [elks.webhook_url("dlr")],
    }
    assert (message.status, message.raw_status, message.parts) == ("sending", "created", 1)
    assert message.remote_id and message.send_attempts == 1
    assert (message.cost, message.currency, message.cost_estimated) == (Decimal("0.35"), "SEK", False)
    assert message.billing_reservation is None  # settled


def test_46elks_alphanumeric_sender_id_is_sent_as_given(tenant_a, elks, sandbox, send_now):
    send_now(queue_message(tenant_a, account=elks, from_number="Switchbrd", to=RECIPIENT, body="Hi"))

    (post,) = sms_posts(sandbox)
    assert parse_qs(post.body)["from"] == ["Switchbrd"]


@pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections between requests
def test_46elks_delivery_report_moves_the_message_to_delivered(tenant_a, elks, eager, deliver_webhooks):
    message = queue_message(tenant_a, account=elks, from_number=elks.our_number, to=RECIPIENT, body="Hi")

    assert [hook.status for hook in deliver_webhooks()] == [200, 200]  # sent, then delivered

    message.refresh_from_db()
    assert message.status == "delivered"


def test_sipcentric_send_posts_json_in_national_format(tenant_a, account_for, sandbox, send_now):
    account = account_for("sipcentric")
    message = send_now(
        queue_message(
            tenant_a, account=account, from_number=account.our_number, to="+447912345678", body="Hi"
        )
    )

    (post,) = sms_posts(sandbox, "sipcentric")
    assert json.loads(post.body) == {
        "type": "smsmessage",
        "to": "07912345678",
        "from": "0" + account.our_number[3:],
        "body": "Hi",
    }
    assert (message.status, message.remote_id, message.currency) == ("sent", "50000001", "GBP")


def test_callr_send_calls_sms_send_with_our_webhook(tenant_a, account_for, sandbox, send_now):
    account = account_for("callr")
    message = send_now(
        queue_message(tenant_a, account=account, from_number="Switchbrd", to=RECIPIENT, body="Hi")
    )

    (post,) = sms_posts(sandbox, "callr")
    body = json.loads(post.body)
    assert body["method"] == "sms.send"
    assert body["params"] == [
        "Switchbrd",
        RECIPIENT,
        "Hi",
        {"webhook": {"endpoint": account.webhook_url("events")}},
    ]
    assert message.status == "sending" and message.remote_id == "6536A9AC"


def test_jambonz_send_posts_json_and_is_sent_at_once(tenant_a, account_for, sandbox, send_now):
    account = account_for("jambonz")
    message = send_now(
        queue_message(tenant_a, account=account, from_number=account.our_number, to=RECIPIENT, body="Hi")
    )

    (post,) = sms_posts(sandbox, "jambonz")
    assert post.path == f"/v1/Accounts/{account.remote_account_id}/Messages"
    assert json.loads(post.body) == {"from": account.our_number, "to": RECIPIENT, "text": "Hi"}
    assert message.status == "sent" and message.sent_at is not None


def test_provider_refusal_fails_at_once_with_its_message(tenant_a, elks, sandbox, send_now, settings):
    settings.SMS_MAX_PARTS = 20  # we allow it; 46elks refuses more than 1600 characters
    message = send_now(
        queue_message(tenant_a, account=elks, from_number=elks.our_number, to=RECIPIENT, body="x" * 1700)
    )

    assert (message.status, message.error) == ("failed", "Message is too long.")
    assert len(sms_posts(sandbox)) == 1
    assert message.billing_reservation is None  # released


def test_a_carrier_refusal_jambonz_calls_temporary_is_retried_then_failed(
    tenant_a, account_for, sandbox, send_now
):
    account = account_for("jambonz")
    message = send_now(
        queue_message(tenant_a, account=account, from_number=account.our_number, to="+46701230000", body="Hi")
    )

    assert message.status == "failed"
    assert message.error.startswith("Gave up after 5 attempts")
    assert len(sms_posts(sandbox, "jambonz")) == 5


def test_46elks_mms_goes_to_the_mms_endpoint_with_its_image(tenant_a, elks, sandbox, send_now):
    message = send_now(
        queue_message(
            tenant_a,
            account=elks,
            from_number=elks.our_number,
            to=RECIPIENT,
            body="Look",
            kind="mms",
            media=["https://example.com/cat.jpg"],
        )
    )

    (post,) = sandbox.ledger.entries(provider="46elks", endpoint="POST /a1/mms")
    assert parse_qs(post.body)["image"] == ["https://example.com/cat.jpg"]
    assert message.kind == "mms" and message.remote_id.startswith("m")
    assert Message.objects.count() == 1
