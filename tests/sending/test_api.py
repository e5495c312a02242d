"""The sending endpoints: 202 with what was queued, and each refusal as its own status."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditLog
from billing.models import BillingSettings
from calls.models import Call
from messaging.models import Message

from .conftest import RECIPIENT

MESSAGES = "/api/v1/messages/"


def payload(account, **overrides) -> dict:
    return {
        "provider_account": account.pk,
        "from": account.our_number,
        "to": RECIPIENT,
        "body": "Hi",
    } | overrides


def test_post_queues_a_message_and_answers_202(api_a, elks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_a.post(MESSAGES, payload(elks), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["to"] == RECIPIENT
    assert len(callbacks) == 1
    message = Message.objects.get()
    assert message.idempotency_key == "k1"
    assert AuditLog.objects.get(action="message.queue").api_key is not None


def test_same_key_and_payload_answer_the_same_message(api_a, elks):
    first = api_a.post(MESSAGES, payload(elks), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api_a.post(MESSAGES, payload(elks), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


def test_same_key_with_another_payload_is_409(api_a, elks):
    api_a.post(MESSAGES, payload(elks), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    response = api_a.post(MESSAGES, payload(elks, body="Other"), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_invalid_input_is_400_with_field_errors(api_a, elks):
    response = api_a.post(MESSAGES, payload(elks, to="nope", body=""), format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"to", "body"}
    assert Message.objects.count() == 0


def test_a_limit_is_422_with_its_message(api_a, elks, tenant_a):
    BillingSettings.objects.create(tenant=tenant_a, monthly_message_cap=0)

    response = api_a.post(MESSAGES, payload(elks), format="json")

    assert response.status_code == 422
    assert "usage limit" in response.json()["error"]["message"]
    assert Message.objects.count() == 0


def test_another_tenants_account_is_unknown(api_b, elks):
    response = api_b.post(MESSAGES, payload(elks), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"provider_account": ["Unknown provider account."]}


@pytest.mark.parametrize("account_id", [2**70, -1, 0])
def test_an_account_id_out_of_range_is_unknown(api_a, elks, account_id):
    response = api_a.post(MESSAGES, payload(elks, provider_account=account_id), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"provider_account": ["Unknown provider account."]}


def test_a_body_that_is_not_an_object_is_400(api_a):
    response = api_a.post(MESSAGES, ["not", "an", "object"], format="json")

    assert response.status_code == 400
    assert Message.objects.count() == 0


def test_sending_needs_the_send_scope(api, key_with_scopes, elks):
    response = api(key_with_scopes("read")).post(MESSAGES, payload(elks), format="json")

    assert response.status_code == 403


def test_bulk_csv_upload_answers_the_bulk_with_its_bad_rows(api_a, elks):
    upload = SimpleUploadedFile("to.csv", b"+46701234567\nnope\n+46709876543\n", content_type="text/csv")

    response = api_a.post(
        f"{MESSAGES}bulk/",
        {"provider_account": elks.pk, "from": "Switchbrd", "body": "Hi all", "file": upload},
        format="multipart",
    )

    assert response.status_code == 202
    body = response.json()
    assert (body["total"], body["queued"]) == (3, 2)
    assert [row["line"] for row in body["invalid_rows"]] == [2]
    progress = api_a.get(f"/api/v1/bulk-sends/{body['id']}/").json()["progress"]
    assert progress["pending"] == 2 and not progress["done"]


def test_another_tenants_bulk_is_404(api_a, api_b, elks):
    created = api_a.post(
        f"{MESSAGES}bulk/",
        {"provider_account": elks.pk, "from": "Switchbrd", "body": "Hi", "recipients": [RECIPIENT]},
        format="json",
    ).json()

    assert api_b.get(f"/api/v1/bulk-sends/{created['id']}/").status_code == 404


def test_estimate_answers_the_dry_run(api_a, elks, sandbox):
    response = api_a.post(
        f"{MESSAGES}estimate/",
        {"provider_account": elks.pk, "from": "Switchbrd", "to": RECIPIENT, "body": "Hi"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "cost": "0.3500",
        "currency": "SEK",
        "parts": 1,
        "source": "dryrun",
        "reason": "",
    }


def test_estimate_without_one_says_why(api_a, account_for):
    account = account_for("jambonz")

    body = api_a.post(
        f"{MESSAGES}estimate/",
        {"provider_account": account.pk, "from": account.our_number, "to": RECIPIENT, "body": "Hi"},
        format="json",
    ).json()

    assert body["cost"] is None and body["source"] == "none" and body["reason"]


def test_post_calls_queues_a_call_and_answers_202(api_a, elks):
    response = api_a.post(
        "/api/v1/calls/",
        {
            "provider_account": elks.pk,
            "from": elks.our_number,
            "to": RECIPIENT,
            "action": {"connect": "+46709876543"},
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="c1",
    )

    assert response.status_code == 202
    assert response.json()["state"] == "queued"
    assert Call.objects.get().idempotency_key == "c1"


@pytest.mark.parametrize("path", ["/api/v1/messages/", "/api/v1/calls/"])
def test_the_schema_documents_the_send_endpoints(api_a, path, staff, client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    post = schema["paths"][path]["post"]
    assert {"202", "400", "409", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
