"""What the provider log keeps of a request or response body (providers.adapters.http):
secrets out by key, size capped, and a body without secrets kept as the provider sent it."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from providers.adapters.http import BODY_CAP, REDACTED, redact_body


def test_a_secret_key_in_a_json_body_is_redacted():
    body = json.dumps({"data": [{"id": "s1", "api_key": "k-123"}], "next": None})

    assert json.loads(redact_body(body)) == {"data": [{"id": "s1", "api_key": REDACTED}], "next": None}


def test_a_secret_key_spelled_in_escapes_is_redacted():
    body = '{"p\\u0061ssword": "hunter2", "id": "s1"}'

    assert json.loads(redact_body(body)) == {"password": REDACTED, "id": "s1"}


@pytest.mark.parametrize(
    "key",
    ["password", "Client_Secret", "TOKEN", "api-key", "apikey", "Authorization", "hmac", "sig_signature"],
)
def test_every_secret_key_is_redacted(key):
    assert json.loads(redact_body(json.dumps({key: "s3cr3t", "id": 1}))) == {key: REDACTED, "id": 1}


def test_a_json_body_without_secrets_is_kept_as_sent():
    body = '{"data": [{"id": "s1", "message": "Hej d\\u00e5!"}],  "next": "s0"}'

    assert redact_body(body.encode(), "application/json") == body


def test_links_to_an_api_do_not_count_as_secrets():
    body = json.dumps({"items": [{"uri": "https://pbx.example/api/v1/customers/me/sms/1"}]})

    assert redact_body(body) == body


def test_a_secret_word_in_a_value_does_not_hide_the_other_values():
    body = json.dumps({"message": "your token is 1234", "id": "s1"})

    assert json.loads(redact_body(body)) == {"message": "your token is 1234", "id": "s1"}


def test_a_form_body_is_redacted_by_key():
    kept = redact_body("to=%2B46700000000&password=hunter2")

    assert parse_qsl(kept) == [("to", "+46700000000"), ("password", REDACTED)]


def test_a_long_body_is_capped():
    body = json.dumps({"data": [{"id": f"s{i}", "message": "x" * 50} for i in range(500)]})

    kept = redact_body(body)

    assert kept.startswith(body[:BODY_CAP])
    assert kept.endswith(f"… [{len(body) - BODY_CAP} more characters]")
