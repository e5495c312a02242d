"""Webhooks in, as providers really misbehave: replays, reports out of order, ids we never
sent, forged signatures, wrong URL tokens and bodies that do not parse."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from messaging.models import Message
from providers import connect
from providers.adapters.records import SmsRequest
from providers.models import WebhookEvent
from providers.webhook_events import UNMATCHED, apply_event
from sandbox.core import OutgoingWebhook

from .conftest import PROVIDERS, RECIPIENT
from .test_send_faults import _send

# The sandboxes that report on our sends, and the state their last report leaves (Callr's
# sandbox reports SENT, as Callr does without delivery receipts).
FINAL_STATUS = {"46elks": "delivered", "callr": "sent"}
DLR_PROVIDERS = tuple(FINAL_STATUS)
SIGNATURE_HEADER = {"callr": "x-callr-hmacsignature", "jambonz": "jambonz-signature"}


def _post(client, hook: OutgoingWebhook, *, url: str = "", body: bytes | None = None, headers=None):
    parts = urlsplit(url or hook.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    given = hook.headers if headers is None else headers
    content_type = next((v for k, v in given.items() if k.lower() == "content-type"), "")
    sent_headers = {k: v for k, v in given.items() if k.lower() != "content-type"}
    return client.generic(
        hook.method,
        path,
        data=hook.body if body is None else body,
        content_type=content_type,
        headers=sent_headers,
    )


def _apply_pending() -> None:
    for event in WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING):
        apply_event(event.pk)


def _hooks(sandbox) -> list[OutgoingWebhook]:
    hooks = sandbox.outbox.take_due(everything=True)
    assert hooks, "the sandbox scheduled no webhook"
    return hooks


def _inbound_hooks(sandbox, account) -> list[OutgoingWebhook]:
    twin = sandbox.find_account(account.provider, **account.credentials)
    sandbox.emit(account.provider, twin, "sms", to=account.our_number, body="inbound")
    return _hooks(sandbox)


@pytest.mark.parametrize("provider", DLR_PROVIDERS)
def test_a_delivery_report_replayed_three_times_is_stored_and_applied_once(
    provider, tenant_a, sandbox, sender, client
):
    account = sender(provider)
    message = _send(tenant_a, account, "replayed")
    hooks = _hooks(sandbox)

    for _ in range(3):
        for hook in hooks:
            assert _post(client, hook).status_code == 200
        _apply_pending()

    assert WebhookEvent.objects.filter(account=account).count() == len(hooks)
    message.refresh_from_db()
    assert message.status == FINAL_STATUS[provider]
    assert Message.objects.filter(provider_account=account).count() == 1


def test_a_delivered_report_arriving_before_sent_leaves_the_message_delivered(
    tenant_a, sandbox, sender, client
):
    account = sender("46elks")
    message = _send(tenant_a, account, "out of order")
    hooks = _hooks(sandbox)
    assert [h.body.split(b"status=")[1][:4] for h in hooks] == [b"sent", b"deli"]

    for hook in reversed(hooks):
        _post(client, hook)
        _apply_pending()

    message.refresh_from_db()
    assert message.status == "delivered"


@pytest.mark.parametrize("provider", DLR_PROVIDERS)
def test_a_delivery_report_for_an_id_we_never_sent_is_kept_and_changes_nothing(
    provider, tenant_a, sandbox, sender, client
):
    account = sender(provider)
    status_url = account.webhook_url("dlr" if provider == "46elks" else "events")
    with connect.open_adapter(account, record=False) as adapter:  # behind our back: no row of ours
        adapter.send_sms(SmsRequest(account.our_number, RECIPIENT, "not ours", status_url=status_url))

    responses = [_post(client, hook).status_code for hook in _hooks(sandbox)]
    _apply_pending()

    assert set(responses) == {200}  # so the provider stops retrying
    assert Message.objects.filter(provider_account=account).count() == 0
    events = WebhookEvent.objects.filter(account=account)
    assert events.exists()
    assert {(e.status, e.error) for e in events} == {(WebhookEvent.Status.APPLIED, UNMATCHED)}


@pytest.mark.parametrize("provider", ["callr", "jambonz"])
def test_a_forged_signature_is_refused_and_nothing_is_stored(provider, tenant_a, sandbox, sender, client):
    account = sender(provider)
    if provider == "callr":
        _send(tenant_a, account, "signed")
        hooks = _hooks(sandbox)
    else:
        hooks = _inbound_hooks(sandbox, account)
    messages_before = Message.objects.filter(provider_account=account).count()

    for hook in hooks:
        headers = {
            k: ("t=1,v1=" + "0" * 64 if provider == "jambonz" else "Zm9yZ2Vk")
            if k.lower() == SIGNATURE_HEADER[provider]
            else v
            for k, v in hook.headers.items()
        }
        assert headers != hook.headers, "the sandbox hook carries no signature"
        assert _post(client, hook, headers=headers).status_code == 403

    assert WebhookEvent.objects.filter(account=account).count() == 0
    assert Message.objects.filter(provider_account=account).count() == messages_before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_url_token_is_refused_and_nothing_is_stored(provider, tenant_a, sandbox, sender, client):
    account = sender(provider)
    hook = _inbound_hooks(sandbox, account)[0]

    response = _post(client, hook, url=hook.url.replace(account.webhook_token, "not-the-token"))

    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("provider", ["46elks", "sipcentric"])  # token-only: a body is read unsigned
def test_a_body_that_does_not_parse_is_kept_as_failed_once_and_changes_nothing(
    provider, tenant_a, sandbox, sender, client
):
    account = sender(provider)
    hook = _inbound_hooks(sandbox, account)[0]
    before = Message.objects.filter(provider_account=account).count()

    statuses = [_post(client, hook, body=b'{"id": \x00 garbage').status_code for _ in range(3)]
    _apply_pending()

    assert statuses == [200, 200, 200]  # a retry could never parse either
    (event,) = WebhookEvent.objects.filter(account=account)
    assert event.status == WebhookEvent.Status.FAILED and event.error
    assert Message.objects.filter(provider_account=account).count() == before
