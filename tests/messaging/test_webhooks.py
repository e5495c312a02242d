"""Delivery reports and received messages, as the webhook layer hands them over."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from messaging.importers import apply_inbound_message, apply_message_status, upsert_messages
from messaging.models import Message
from numbers.models import PhoneNumber
from providers.adapters.records import (
    Direction,
    EventType,
    InboundEvent,
    MessageStatus,
    MessageStatusUpdate,
)
from providers.ingest import handler_for

from .conftest import T0, remote


def _dlr(remote_id: str, status: MessageStatus, **fields) -> InboundEvent:
    update = MessageStatusUpdate(remote_id, status, str(status), **fields)
    return InboundEvent(EventType.MESSAGE_STATUS, event_id=None, status_update=update)


def _inbound(n: int = 1, **fields) -> InboundEvent:
    message = remote(
        n, direction=Direction.INBOUND, status=MessageStatus.RECEIVED, cost=None, currency="", **fields
    )
    return InboundEvent(EventType.MESSAGE_INBOUND, event_id=message.remote_id, message=message)


def test_handlers_are_registered():
    assert handler_for(EventType.MESSAGE_STATUS) is apply_message_status
    assert handler_for(EventType.MESSAGE_INBOUND) is apply_inbound_message


def test_delivery_report_advances_the_status(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT)])
    at = T0 + timedelta(minutes=3)

    assert apply_message_status(account_a, _dlr("s1", MessageStatus.DELIVERED, occurred_at=at)) is True

    row = Message.objects.get()
    assert (row.status, row.delivered_at) == ("delivered", at)


def test_delivery_report_for_an_unknown_id_changes_nothing(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT)])

    assert apply_message_status(account_a, _dlr("nope", MessageStatus.DELIVERED)) is False

    assert Message.objects.get().status == "sent"


def test_late_sent_report_does_not_undo_delivered(account_a):
    upsert_messages(account_a, [remote(1)])

    apply_message_status(account_a, _dlr("s1", MessageStatus.SENT))

    row = Message.objects.get()
    assert (row.status, row.raw_status) == ("delivered", "delivered")


def test_delivery_report_of_another_account_is_not_applied(account_a, account_b):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT)])

    assert apply_message_status(account_b, _dlr("s1", MessageStatus.DELIVERED)) is False

    assert Message.objects.get().status == "sent"


def test_failure_report_keeps_the_error(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT)])

    apply_message_status(account_a, _dlr("s1", MessageStatus.FAILED, error="Unreachable"))

    row = Message.objects.get()
    assert (row.status, row.error) == ("failed", "Unreachable")


def test_delivery_report_price_replaces_the_estimate(account_a):
    upsert_messages(account_a, [remote(1, status=MessageStatus.SENT, cost=None, currency="")])
    Message.objects.update(cost=Decimal("0.9"), currency="SEK", cost_estimated=True)

    apply_message_status(account_a, _dlr("s1", MessageStatus.DELIVERED, cost=Decimal("0.35"), currency="SEK"))

    row = Message.objects.get()
    assert (row.cost, row.cost_estimated) == (Decimal("0.35"), False)


def test_inbound_message_is_stored_once(account_a, tenant_a):
    assert apply_inbound_message(account_a, _inbound()) is True
    assert apply_inbound_message(account_a, _inbound()) is False  # a replay

    row = Message.objects.for_tenant(tenant_a).get()
    assert (row.direction, row.status) == ("inbound", "received")


def test_inbound_message_links_our_number(account_a, tenant_a):
    ours = PhoneNumber.objects.create(
        tenant=tenant_a, provider_account=account_a, number="+46766860001", remote_id="n1"
    )

    apply_inbound_message(account_a, _inbound(to_number="+46766860001"))

    assert Message.objects.get().number == ours


def test_inbound_message_to_a_number_not_ours_has_no_number(account_a, account_b, tenant_b):
    PhoneNumber.objects.create(
        tenant=tenant_b, provider_account=account_b, number="+46766860001", remote_id="n1"
    )

    apply_inbound_message(account_a, _inbound(to_number="+46766860001"))

    assert Message.objects.get().number is None


def test_outbound_messages_link_the_sending_number(account_a, tenant_a):
    ours = PhoneNumber.objects.create(
        tenant=tenant_a, provider_account=account_a, number="+46700000001", remote_id="n1"
    )

    upsert_messages(account_a, [remote(1)])

    assert Message.objects.get().number == ours
