"""Bad input to the sending paths, API and dashboard: each is a 400 naming the problem
(never a 500, never accepted)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messaging.models import BulkSend, Message

from .conftest import RECIPIENT

MESSAGES = "/api/v1/messages/"
BINARY = bytes(range(256)) * 40  # NULs, control bytes and invalid UTF-8


def _bulk(account, upload) -> dict:
    return {"provider_account": account.pk, "from": "Switchbrd", "body": "Hi all", "file": upload}


def test_deeply_nested_json_is_a_400(api_a):
    body = b'{"to": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = api_a.generic("POST", MESSAGES, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_moderately_nested_json_is_a_400_too(api_a):
    body = b'{"to": ' + b"[" * 40 + b"]" * 40 + b"}"
    response = api_a.generic("POST", MESSAGES, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 32" in response.json()["error"]["message"]


def test_a_letter_in_the_recipient_is_refused(api_a, elks):
    body = {"provider_account": elks.pk, "from": elks.our_number, "to": "0701234567x", "body": "Hi"}
    response = api_a.post(MESSAGES, body, format="json")
    assert response.status_code == 400
    assert "to" in response.json()["error"]["fields"]
    assert not Message.objects.exists()


def test_a_letter_in_a_call_recipient_is_refused(api_a, elks):
    body = {"provider_account": elks.pk, "from": elks.our_number, "to": "+4670123x", "action": {}}
    response = api_a.post("/api/v1/calls/", body, format="json")
    assert response.status_code == 400
    assert "to" in response.json()["error"]["fields"]


def test_a_binary_csv_to_the_bulk_api_is_a_400(api_a, elks):
    upload = SimpleUploadedFile("to.csv", BINARY, content_type="text/csv")
    response = api_a.post(f"{MESSAGES}bulk/", _bulk(elks, upload), format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["file"] == [
        "The file is not text (it holds binary data); upload a CSV (UTF-8)."
    ]
    assert not BulkSend.objects.exists()


def test_a_csv_with_an_oversized_field_is_a_400(api_a, elks):
    upload = SimpleUploadedFile("to.csv", b'"' + b"1" * 200_000 + b'"\n', content_type="text/csv")
    response = api_a.post(f"{MESSAGES}bulk/", _bulk(elks, upload), format="multipart")
    assert response.status_code == 400
    assert "not a readable CSV" in response.json()["error"]["fields"]["file"][0]


def test_a_windows_1252_csv_is_read(api_a, elks):
    upload = SimpleUploadedFile(
        "to.csv", "namn,to\nÅsa,+46701234567\n".encode("cp1252"), content_type="text/csv"
    )
    response = api_a.post(f"{MESSAGES}bulk/", _bulk(elks, upload), format="multipart")
    assert response.status_code == 202
    assert response.json()["queued"] == 1


def test_a_binary_csv_to_the_bulk_page_is_a_form_error(login, member_a, tenant_a, elks):
    response = login(member_a).post(
        reverse("bulk-send", args=[tenant_a.slug]),
        {
            "account": elks.pk,
            "from_number": "Acme",
            "body": "Sale!",
            "file": SimpleUploadedFile("to.csv", BINARY, content_type="text/csv"),
        },
    )
    assert response.status_code == 400
    assert "holds binary data" in response.content.decode()
    assert not BulkSend.objects.exists()


def test_a_letter_in_a_compose_recipient_is_a_form_error(login, member_a, tenant_a, elks):
    response = login(member_a).post(
        reverse("compose", args=[tenant_a.slug]),
        {"account": elks.pk, "from_number": "Acme", "to": f"{RECIPIENT}, 0701234567x", "body": "Hi"},
    )
    assert response.status_code == 400
    assert "is not a phone number" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize("text", ["+46701234567", "070-123 45 67", "(070) 123.45.67"])
def test_typed_numbers_with_separators_still_pass(text):
    from core.phone_input import phone_text_problem

    assert phone_text_problem(text) is None
