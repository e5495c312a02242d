"""Hostile webhooks: oversized, deeply nested, NUL bytes, markup for a number. Each is
refused or stored as failed with a clear reason, or applied cleaned; never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from messaging.models import Message
from providers.models import WebhookEvent
from providers.webhook_events import apply_event

FORM = "application/x-www-form-urlencoded"
pytestmark = pytest.mark.django_db


@pytest.fixture
def elks(tenant_a, sandbox_account):
    return sandbox_account(tenant_a, "46elks", seed=2, size=5)


def hook_path(account, kind: str) -> str:
    return account.webhook_url(kind).replace("http://testserver", "")


def inbound_sms(**overrides) -> dict[str, str]:
    return {
        "direction": "incoming",
        "id": "sms-hostile-1",
        "from": "+46701234567",
        "to": "+46766861001",
        "message": "hello",
        "created": "2026-01-02T10:00:00.000000",
        **overrides,
    }


def callr_post(client, account, body: bytes):
    signature = base64.b64encode(hmac.new(account.webhook_secret.encode(), body, hashlib.sha256).digest())
    return client.post(
        hook_path(account, "events"),
        body,
        content_type="application/json",
        HTTP_X_CALLR_HMACSIGNATURE=signature.decode(),
    )


def test_an_oversized_webhook_is_413_and_not_stored(client, elks):
    form = inbound_sms(message="x" * (300 * 1024))
    response = client.post(hook_path(elks, "sms"), urlencode(form), content_type=FORM)
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_an_inbound_sms_with_a_nul_byte_is_applied_without_it(client, elks):
    response = client.post(
        hook_path(elks, "sms"), urlencode(inbound_sms(message="he\x00llo")), content_type=FORM
    )
    assert response.status_code == 200
    assert apply_event(WebhookEvent.objects.get().pk) == "applied"
    assert Message.objects.get(remote_id="sms-hostile-1").body == "hello"


def test_markup_as_the_from_number_is_refused_with_a_reason(client, elks):
    form = inbound_sms(**{"from": "<b>+4670</b>"})
    response = client.post(hook_path(elks, "sms"), urlencode(form), content_type=FORM)
    event = WebhookEvent.objects.get()
    assert response.status_code == 200  # authentic: kept for a look, the provider stops retrying
    assert (event.status, event.error) == (
        "failed",
        "The webhook's from number is not a phone number or sender id.",
    )
    assert not Message.objects.exists()


def test_a_huge_message_text_is_cut_to_the_cap(client, elks):
    form = inbound_sms(message="y" * 20_000)
    client.post(hook_path(elks, "sms"), urlencode(form), content_type=FORM)
    apply_event(WebhookEvent.objects.get().pk)
    assert len(Message.objects.get(remote_id="sms-hostile-1").body) == 10_000


def test_deeply_nested_json_is_stored_as_failed_not_a_500(client, tenant_a, sandbox_account):
    callr = sandbox_account(tenant_a, "callr")
    body = b'{"type": "sms.mo", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = callr_post(client, callr, body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "failed"
    assert event.error == "Callr webhook body is not JSON."


def test_moderately_nested_json_is_refused_by_depth(client, tenant_a, sandbox_account):
    callr = sandbox_account(tenant_a, "callr")
    nested: list = [1]
    for _ in range(40):
        nested = [nested]
    body = json.dumps({"type": "sms.mo", "event_id": "n1", "data": {"x": nested}}).encode()
    response = callr_post(client, callr, body)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "failed"
