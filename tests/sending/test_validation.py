"""Every invalid send is refused with a clear message, and nothing is stored or sent."""

from __future__ import annotations

import pytest

from messaging.models import Message
from messaging.services import SendRejected
from providers.models import ProviderAccount


@pytest.fixture(autouse=True)
def nothing_sent(db, sandbox, django_capture_on_commit_callbacks):
    """Each test here must leave no row, no enqueued task and no provider request."""
    with django_capture_on_commit_callbacks() as callbacks:
        yield
    assert Message.objects.count() == 0
    assert callbacks == []
    assert sandbox.ledger.count() == 0


def refusal(queue, **fields) -> dict[str, list[str]]:
    with pytest.raises(SendRejected) as caught:
        queue(**fields)
    return caught.value.errors


def test_a_bad_recipient_is_refused_with_the_number_named(queue):
    assert refusal(queue, to="12ab") == {
        "to": ["'12ab' is not a phone number; use international format, e.g. +46701234567."]
    }


def test_an_impossible_recipient_is_refused(queue):
    assert refusal(queue, to="+4612") == {"to": ["'+4612' is not a valid phone number."]}


def test_an_empty_body_is_refused(queue):
    assert refusal(queue, body="   ") == {"body": ["The message is empty."]}


def test_too_many_parts_is_refused_with_the_count(queue, settings):
    settings.SMS_MAX_PARTS = 2
    assert refusal(queue, body="x" * 307) == {
        "body": ["The message needs 3 parts (GSM-7); at most 2 are allowed."]
    }


def test_all_problems_are_reported_together(queue):
    assert set(refusal(queue, to="nope", body="", from_number="1")) == {"to", "body", "from"}


def test_a_sender_id_must_follow_the_46elks_rule(queue):
    assert refusal(queue, from_number="A-very-long-sender") == {
        "from": [
            "'A-very-long-sender' is not a valid sender: use a sender id of 3-11 letters and digits "
            "starting with a letter, or a number you hold."
        ]
    }


def test_a_number_the_tenant_does_not_hold_is_refused(queue):
    assert refusal(queue, from_number="+46701111222") == {
        "from": ["+46701111222 is not a number you hold on 46elks sandbox."]
    }


def test_jambonz_takes_no_alphanumeric_sender(tenant_a, account_for, queue):
    account = account_for("jambonz")
    assert refusal(queue, account=account, from_number="Switchbrd") == {
        "from": ["jambonz messages must be sent from a number you hold, not a sender id."]
    }


def test_mms_where_unsupported_is_refused(tenant_a, account_for, queue):
    account = account_for("callr")
    assert refusal(queue, account=account, from_number=account.our_number, kind="mms") == {
        "account": ["Callr accounts cannot send MMS."]
    }


def test_an_inactive_account_is_refused(queue, elks):
    ProviderAccount.objects.filter(pk=elks.pk).update(status=ProviderAccount.Status.DISABLED)
    elks.refresh_from_db()
    assert refusal(queue, account=elks) == {"account": ["Provider account 46elks sandbox is disabled."]}


def test_an_inactive_tenant_is_refused(queue, tenant_a):
    tenant_a.active = False
    tenant_a.save()
    assert refusal(queue) == {"account": ["This tenant is not active."]}


def test_another_tenants_account_is_unknown(queue, tenant_b, sandbox_account):
    foreign = sandbox_account(tenant_b, "46elks")
    assert refusal(queue, account=foreign) == {"account": ["Unknown provider account."]}

