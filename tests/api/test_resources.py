"""Read resources: shapes, filters and file streaming."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from .factories import call, media, message, phone_number, recording
from .helpers import ids, results

pytestmark = pytest.mark.django_db

MESSAGE_FIELDS = {
    "id", "provider_account", "remote_id", "kind", "direction", "from", "to", "body", "status", "parts",
    "cost", "currency", "created_at",
}  # fmt: skip
CALL_FIELDS = {
    "id", "provider_account", "remote_id", "direction", "from", "to", "state", "duration", "cost",
    "currency", "legs", "created_at",
}  # fmt: skip


def test_message_shape(api_a, tenant_a):
    sent = message(tenant_a, from_number="+46700000001", to_number="+46731234567")
    body = api_a.get(f"/api/v1/messages/{sent.pk}/").json()
    assert set(body) >= MESSAGE_FIELDS
    assert (body["from"], body["to"], body["cost"]) == ("+46700000001", "+46731234567", "0.3500")
    assert body["created_at"].endswith("Z")


def test_message_without_price_has_null_cost(api_a, tenant_a):
    queued = message(tenant_a, cost=None, status="queued")
    assert api_a.get(f"/api/v1/messages/{queued.pk}/").json()["cost"] is None


def test_messages_filter_by_direction_status_and_time(api_a, tenant_a):
    old = message(tenant_a, created_at=timezone.now() - timedelta(days=3))
    inbound = message(tenant_a, direction="inbound", status="received")
    assert ids(api_a.get("/api/v1/messages/", {"direction": "inbound"})) == {inbound.pk}
    assert ids(api_a.get("/api/v1/messages/", {"status": "received"})) == {inbound.pk}
    before = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(api_a.get("/api/v1/messages/", {"created_before": before})) == {old.pk}


def test_messages_q_matches_a_number_prefix_or_body_text(api_a, tenant_a):
    hit = message(tenant_a, to_number="+46739990000", body="Your code is 1234")
    message(tenant_a, to_number="+46731110000", body="hello")
    assert ids(api_a.get("/api/v1/messages/", {"q": "+4673999"})) == {hit.pk}
    assert ids(api_a.get("/api/v1/messages/", {"q": "code"})) == {hit.pk}


def test_bad_timestamp_filter_is_400(api_a):
    response = api_a.get("/api/v1/messages/", {"created_after": "yesterday"})
    assert response.status_code == 400
    assert "created_after" in response.json()["error"]["fields"]


def test_conversations_group_by_our_number_and_counterpart(api_a, tenant_a):
    now = timezone.now()
    message(tenant_a, to_number="+46731111111", created_at=now - timedelta(minutes=9))
    reply = message(
        tenant_a, direction="inbound", from_number="+46731111111", to_number="+46700000001", created_at=now
    )
    other = message(tenant_a, to_number="+46732222222", created_at=now - timedelta(minutes=5))
    rows = results(api_a.get("/api/v1/conversations/"))
    assert [(r["counterpart"], r["message_count"], r["last_message"]["id"]) for r in rows] == [
        ("+46731111111", 2, reply.pk),
        ("+46732222222", 1, other.pk),
    ]
    assert rows[0]["our_number"] == "+46700000001"


def test_call_shape_with_legs(api_a, tenant_a):
    made = call(tenant_a)
    body = api_a.get(f"/api/v1/calls/{made.pk}/").json()
    assert set(body) >= CALL_FIELDS
    assert (body["duration"], body["cost"], len(body["legs"])) == (42, "1.2000", 1)
    assert body["legs"][0]["to"] == made.to_number


def test_calls_filter_by_state(api_a, tenant_a):
    busy = call(tenant_a, state="busy")
    call(tenant_a)
    assert ids(api_a.get("/api/v1/calls/", {"state": "busy"})) == {busy.pk}


def test_recording_audio_streams_the_stored_file(api_a, tenant_a):
    stored = recording(tenant_a, content=b"ID3 audio bytes")
    response = api_a.get(f"/api/v1/recordings/{stored.pk}/audio/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert b"".join(response.streaming_content) == b"ID3 audio bytes"


def test_recording_not_fetched_yet_is_404(api_a, tenant_a):
    pending = recording(tenant_a)
    assert api_a.get(f"/api/v1/recordings/{pending.pk}/audio/").status_code == 404


def test_media_content_streams_the_image(api_a, tenant_a):
    image = media(tenant_a, content=b"\x89PNG bytes")
    response = api_a.get(f"/api/v1/media/{image.pk}/content/")
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert api_a.get(f"/api/v1/media/{media(tenant_a).pk}/content/").status_code == 404


def test_numbers_filter_by_prefix_and_note_can_be_set(api_a, tenant_a):
    ours = phone_number(tenant_a, "+46766861000")
    phone_number(tenant_a, "+46101234567")
    assert ids(api_a.get("/api/v1/numbers/", {"q": "+467668"})) == {ours.pk}
    response = api_a.patch(
        f"/api/v1/numbers/{ours.pk}/", {"purpose": "Support", "number": "+1"}, format="json"
    )
    assert response.status_code == 200
    ours.refresh_from_db()
    assert (ours.purpose, ours.number) == ("Support", "+46766861000")


def test_audit_log_lists_entries(api_a, tenant_a):
    api_a.post("/api/v1/api-keys/", {"name": "ci", "scopes": ["read"]}, format="json")
    rows = results(api_a.get("/api/v1/audit-log/", {"action": "api_key.issue"}))
    assert len(rows) == 1 and rows[0]["api_key"]


def test_time_filter_with_an_extreme_offset_is_converted_not_a_500(api_a, tenant_a):
    message(tenant_a)
    response = api_a.get("/api/v1/messages/", {"created_before": "0035-11-28T18:04:11+16:16"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_unknown_call_status_is_400_like_messages(api_a):
    for path in ("/api/v1/calls/", "/api/v1/messages/"):
        response = api_a.get(path, {"status": "bogus"})
        assert response.status_code == 400, path
        assert "status" in response.json()["error"]["fields"], path


def test_calls_filter_by_status(api_a, tenant_a):
    busy = call(tenant_a, state="busy")
    call(tenant_a, state="completed")
    assert ids(api_a.get("/api/v1/calls/", {"status": "busy"})) == {busy.pk}
