"""Placing calls: validated, idempotent, claimed once; state arrives by webhook."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from calls.models import Call
from calls.services import place_call
from calls.tasks import place_call_task
from messaging.services import IdempotencyConflict, SendRejected

from .conftest import RECIPIENT


def dial(call: Call) -> Call:
    place_call_task.apply(args=[call.pk])
    call.refresh_from_db()
    return call


def calls_posted(sandbox, provider: str) -> list:
    endpoint = {"46elks": "POST /a1/calls", "jambonz": "POST /Accounts/*/Calls"}[provider]
    return sandbox.ledger.entries(provider=provider, endpoint=endpoint)


def test_46elks_call_posts_voice_start_and_records_the_id(tenant_a, elks, sandbox):
    call = dial(
        place_call(
            tenant_a,
            account=elks,
            from_number=elks.our_number,
            to=RECIPIENT,
            action={"connect": "+46709876543"},
            timeout=30,
        )
    )

    (post,) = calls_posted(sandbox, "46elks")
    assert parse_qs(post.body) == {
        "from": [elks.our_number],
        "to": [RECIPIENT],
        "voice_start": ['{"connect": "+46709876543"}'],
        "timeout": ["30"],
        "whenhangup": [elks.webhook_url("hangup")],
    }
    assert call.remote_id.startswith("c") and call.state == "in_progress"


@pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections between requests
def test_46elks_call_ends_by_its_hangup_webhook(tenant_a, elks, eager, deliver_webhooks):
    call = place_call(
        tenant_a,
        account=elks,
        from_number=elks.our_number,
        to=RECIPIENT,
        action={"play": "https://x.test/a.mp3"},
    )

    deliver_webhooks()

    call.refresh_from_db()
    assert call.state == "completed" and call.remote_id
    assert Call.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_jambonz_call_carries_our_hooks_and_action(tenant_a, account_for, sandbox, eager, deliver_webhooks):
    account = account_for("jambonz")
    call = place_call(
        tenant_a,
        account=account,
        from_number=account.our_number,
        to=RECIPIENT,
        action={"connect": "+46709876543"},
    )

    (post,) = calls_posted(sandbox, "jambonz")
    body = json.loads(post.body)
    assert body["call_hook"] == {"url": account.webhook_url("call")}
    assert body["call_status_hook"] == {"url": account.webhook_url("call-status")}
    assert body["to"] == {"type": "phone", "number": RECIPIENT}
    assert body["tag"] == {"switchboard_action": {"connect": "+46709876543"}}

    deliver_webhooks()

    call.refresh_from_db()
    assert call.remote_id
    assert call.state == "completed"


def test_same_key_places_one_call(tenant_a, elks, sandbox):
    fields = {
        "account": elks,
        "from_number": elks.our_number,
        "to": RECIPIENT,
        "action": {"connect": "+46709876543"},
    }
    first = dial(place_call(tenant_a, idempotency_key="k", **fields))
    again = dial(place_call(tenant_a, idempotency_key="k", **fields))

    assert again.pk == first.pk and len(calls_posted(sandbox, "46elks")) == 1
    with pytest.raises(IdempotencyConflict):
        place_call(tenant_a, idempotency_key="k", **{**fields, "to": "+46709876543"})


def test_a_redelivered_call_task_does_not_dial_again(tenant_a, elks, sandbox):
    call = place_call(
        tenant_a, account=elks, from_number=elks.our_number, to=RECIPIENT, action={"connect": "+46709876543"}
    )
    Call.objects.filter(pk=call.pk).update(state="placing", send_attempts=1, last_attempt_at=timezone.now())

    call = dial(call)

    assert call.state == "unknown" and sandbox.ledger.count() == 0


def test_a_timed_out_call_request_is_unknown_not_retried(tenant_a, elks, sandbox):
    sandbox.faults.add("timeout", provider="46elks", endpoint="POST /a1/calls", count=1)
    call = dial(
        place_call(
            tenant_a,
            account=elks,
            from_number=elks.our_number,
            to=RECIPIENT,
            action={"connect": "+46709876543"},
        )
    )

    assert call.state == "unknown" and len(calls_posted(sandbox, "46elks")) == 1


def test_invalid_calls_are_refused_with_every_reason(tenant_a, elks, sandbox):
    with pytest.raises(SendRejected) as caught:
        place_call(tenant_a, account=elks, from_number="+46701111222", to="x", action={"dance": 1}, timeout=0)

    assert caught.value.errors == {
        "from": ["+46701111222 is not a number you hold on 46elks sandbox."],
        "to": ["'x' is not a phone number; use international format, e.g. +46701234567."],
        "action": ["Unknown action 'dance': use connect or play."],
        "timeout": ["The ring timeout is 1 to 600 seconds."],
    }
    assert Call.objects.count() == 0 and sandbox.ledger.count() == 0


def test_a_queued_call_of_an_account_being_deleted_is_never_placed(tenant_a, elks, sandbox):
    from providers.models import ProviderAccount

    call = place_call(
        tenant_a, account=elks, from_number=elks.our_number, to=RECIPIENT, action={"connect": "+46709876543"}
    )
    ProviderAccount.objects.filter(pk=elks.pk).update(status=ProviderAccount.Status.DELETING)
    call = dial(call)
    assert call.state == "failed"
    assert "being deleted" in call.error
    assert calls_posted(sandbox, "46elks") == []
