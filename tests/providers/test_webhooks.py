"""Webhooks in: authentication, storage before the answer, replays, and applying events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlencode

import pytest

from config.celery import app
from messaging.models import Message
from providers import connect, tasks
from providers.adapters.elks46 import Elks46Adapter
from providers.adapters.records import EventType, InboundEvent
from providers.models import WebhookEvent
from providers.sync import run_sync
from providers.webhook_events import UNMATCHED, apply_event
from tests.providers import test_sync_fakes as fakes

registry = fakes.registry

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def eager(monkeypatch):
    """The webhook applier runs inline when its on_commit callback fires."""
    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def elks(tenant_a, sandbox_account):
    return sandbox_account(tenant_a, "46elks", seed=2, size=20)


def post(client, account, kind: str, form: dict[str, str], **extra):
    path = account.webhook_url(kind).replace("http://testserver", "")
    return client.post(path, urlencode(form), content_type=FORM, **extra)


def dlr(remote_id: str, status: str) -> dict[str, str]:
    return {"id": remote_id, "status": status, "delivered": "2026-01-02T10:00:05.000000"}


def outbound_message(account, remote_id: str = "s1a2b3", status: str = "sent") -> Message:
    return Message.objects.create(
        tenant=account.tenant,
        provider_account=account,
        direction="outbound",
        from_number="+46700000001",
        to_number="+46700000002",
        body="hi",
        status=status,
        remote_id=remote_id,
        created_at=datetime(2026, 1, 2, 10, tzinfo=UTC),
    )


def test_an_unknown_token_is_refused_and_nothing_is_stored(client, elks):
    response = client.post("/hooks/46elks/not-a-token/dlr/", urlencode(dlr("x", "sent")), content_type=FORM)

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_token_of_another_provider_is_refused(client, elks):
    response = client.post(
        f"/hooks/callr/{elks.webhook_token}/events/", "{}", content_type="application/json"
    )

    assert response.status_code == 403


def test_an_unknown_kind_is_not_found(client, elks):
    response = post(client, elks, "fax", dlr("x", "sent"))

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_a_source_address_outside_the_allowed_list_is_refused(client, elks):
    elks.options = {**elks.options, "allowed_ips": ["176.10.154.199"]}
    elks.save()

    response = post(client, elks, "dlr", dlr("x", "sent"), REMOTE_ADDR="10.9.8.7")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def callr_post(client, account, body: bytes, signature: str):
    path = account.webhook_url("events").replace("http://testserver", "")
    return client.post(path, body, content_type="application/json", HTTP_X_CALLR_HMACSIGNATURE=signature)


def test_a_bad_signature_is_refused_and_nothing_is_stored(client, tenant_a, sandbox_account):
    callr = sandbox_account(tenant_a, "callr")
    body = json.dumps({"type": "billing.credit", "event_id": "e1", "data": {}}).encode()

    response = callr_post(client, callr, body, base64.b64encode(b"forged").decode())

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_signed_event_is_stored(client, tenant_a, sandbox_account):
    callr = sandbox_account(tenant_a, "callr")
    body = json.dumps({"type": "billing.credit", "event_id": "e1", "data": {}}).encode()
    signature = base64.b64encode(
        hmac.new(callr.webhook_secret.encode(), body, hashlib.sha256).digest()
    ).decode()

    response = callr_post(client, callr, body, signature)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().event_key == "e1"


def test_the_event_is_stored_before_the_answer_and_applied_after_commit(
    client, elks, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.apply_pending_webhooks, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(client, elks, "dlr", dlr("s1a2b3", "delivered"))

    event = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert response.content == b""
    assert (event.tenant_id, event.kind, event.event_key, event.status) == (
        elks.tenant_id,
        "dlr",
        "s1a2b3:delivered",
        "pending",
    )
    delay.assert_called_once_with()


def test_a_replay_is_a_no_op(client, elks, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(tasks.apply_pending_webhooks, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        post(client, elks, "dlr", dlr("s1a2b3", "delivered"))
        replay = post(client, elks, "dlr", dlr("s1a2b3", "delivered"))

    assert replay.status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert delay.call_count == 1


def test_an_event_without_an_id_is_keyed_by_its_body_hash(client, elks):
    form = {
        "id": "sf00",
        "from": "+46701234567",
        "to": "+46766861001",
        "message": "hi",
        "created": "2026-01-02",
    }

    post(client, elks, "sms", form)

    assert WebhookEvent.objects.get().event_key == hashlib.sha256(urlencode(form).encode()).hexdigest()


def test_an_authentic_but_unparseable_event_is_kept_as_failed_and_answered_200(
    client, elks, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.apply_pending_webhooks, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(client, elks, "dlr", {"nothing": "useful"})

    event = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert (event.status, event.error) == ("failed", "Malformed 46elks dlr webhook.")
    delay.assert_not_called()


def test_credentials_in_headers_are_not_stored(client, elks):
    post(client, elks, "dlr", dlr("s1", "sent"), HTTP_AUTHORIZATION="Basic c2VjcmV0")

    assert "authorization" not in WebhookEvent.objects.get().headers


def test_the_adapters_reply_is_the_answer(client, elks, monkeypatch):
    reply = {"connect": "+46700000000"}
    monkeypatch.setattr(
        Elks46Adapter,
        "parse_webhook",
        lambda self, kind, req: [InboundEvent(EventType.IGNORED, "c1", reply=reply)],
    )

    response = post(client, elks, "voice", {"callid": "c1", "from": "+4670", "to": "+4671"})

    assert response.json() == reply


def test_out_of_order_reports_end_delivered(client, elks, eager, django_capture_on_commit_callbacks):
    message = outbound_message(elks, status="queued")

    with django_capture_on_commit_callbacks(execute=True):
        post(client, elks, "dlr", dlr(message.remote_id, "delivered"))
    with django_capture_on_commit_callbacks(execute=True):
        post(client, elks, "dlr", dlr(message.remote_id, "sent"))

    message.refresh_from_db()
    assert message.status == "delivered"
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"applied"}


def test_an_unknown_id_is_stored_and_reconciled_by_the_next_sync(
    client, elks, eager, django_capture_on_commit_callbacks
):
    with connect.open_adapter(elks) as adapter:
        remote = adapter.list_messages(None).items[0]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, elks, "dlr", dlr(remote.remote_id, "delivered"))

    event = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert (event.status, event.error) == ("applied", UNMATCHED)
    assert not Message.objects.filter(remote_id=remote.remote_id).exists()
    run_sync(tasks.start_sync(elks, "command"), resources=["messages"])
    assert Message.objects.get(provider_account=elks, remote_id=remote.remote_id).status == remote.status


@pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections between requests
def test_an_inbound_message_from_the_sandbox_lands_as_received(elks, sandbox, eager, deliver_webhooks):
    sim_account = sandbox.accounts["46elks"][0]
    emitted = sandbox.emit("46elks", sim_account, "sms", message="Hello there")

    delivered = deliver_webhooks()

    assert [hook.status for hook in delivered] == [200]
    message = Message.objects.get(provider_account=elks, remote_id=emitted["id"])
    assert (message.direction, message.status, message.body) == ("inbound", "received", "Hello there")


def test_applying_twice_changes_nothing(elks, registry):
    calls = []
    registry.register_event_handler(
        EventType.MESSAGE_STATUS, lambda account, event: calls.append(event) or True
    )
    event = WebhookEvent.objects.create(
        tenant=elks.tenant,
        account=elks,
        provider="46elks",
        kind="dlr",
        event_key="s1:sent",
        body=urlencode(dlr("s1", "sent")),
        headers={"content-type": FORM},
    )

    assert apply_event(event.pk) == "applied"
    assert apply_event(event.pk) == "applied"
    assert len(calls) == 1


def test_an_event_type_without_a_handler_fails_with_a_note(elks, registry):
    registry._event_handlers.clear()
    event = WebhookEvent.objects.create(
        tenant=elks.tenant,
        account=elks,
        provider="46elks",
        kind="dlr",
        event_key="s1:sent",
        body=urlencode(dlr("s1", "sent")),
    )

    assert apply_event(event.pk) == "failed"
    event.refresh_from_db()
    assert (event.attempts, event.error) == (1, "No handler registered for message.status")


def test_a_webhook_for_an_account_being_deleted_is_accepted_and_dropped(client, elks):
    from providers.models import ProviderAccount

    ProviderAccount.objects.filter(pk=elks.pk).update(status=ProviderAccount.Status.DELETING)
    elks.refresh_from_db()
    response = post(client, elks, "dlr", dlr("s1", "delivered"))

    assert response.status_code == 200
    assert not WebhookEvent.objects.exists()


def _connection_tenant() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.tenant_id', true), '')")
        return cursor.fetchone()[0]


def test_storing_an_event_sets_its_tenant_for_that_statement_only(elks):
    from accounts.rls import rls_bypass, tenant_context
    from providers.adapters.records import WebhookRequest
    from providers.webhooks import store_event

    hook = WebhookRequest("POST", "/hooks/x/", {}, {}, b"id=tenant-probe", "127.0.0.1", FORM)
    with tenant_context(None):
        before = _connection_tenant()
        event_id = store_event(elks, "dlr", "tenant-probe", hook, WebhookEvent.Status.PENDING, "")
        assert _connection_tenant() == before == ""
    with rls_bypass("test"):
        assert WebhookEvent.objects.get(pk=event_id).tenant_id == elks.tenant_id


def test_the_applier_pauses_after_a_small_batch_so_trickling_reports_are_batched(
    client, elks, settings, monkeypatch
):
    settings.WEBHOOK_APPLY_PAUSE_MS = 30
    with mock.patch.object(tasks.apply_pending_webhooks, "delay"):
        post(client, elks, "dlr", dlr("trickle1", "delivered"))
        post(client, elks, "dlr", dlr("trickle2", "delivered"))
    pauses: list[float] = []
    monkeypatch.setattr(tasks.time, "sleep", pauses.append)

    result = tasks.apply_pending_webhooks()

    assert result == {"applied": 2}
    assert pauses == [0.03]
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).exists()
