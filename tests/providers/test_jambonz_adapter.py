"""jambonz adapter against canned responses (httpx.MockTransport): the documented JSON
examples, request shapes checked against jambonz-swagger.yaml, error mapping and
Jambonz-Signature verification. No database."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from providers.adapters import (
    AuthFailed,
    Connection,
    NotSupported,
    RateLimited,
    Rejected,
    Unavailable,
    WebhookRejected,
    build_adapter,
)
from providers.adapters.jambonz import JambonzAdapter
from providers.adapters.jambonz.parse import e164, verbs_for_action
from providers.adapters.records import (
    CallRequest,
    CallState,
    Capability,
    Direction,
    EventType,
    MessageKind,
    MessageStatus,
    SmsRequest,
    WebhookRequest,
)

ACCOUNT_SID = "fef61e75-cec3-496c-a7bc-8368e4d02a04"
SP_SID = "a44985ae-3b03-4d23-a602-4971cfd60a65"
BASE = "https://jambonz.test/v1"
SECRET = "wh_secret_abc123"
SWAGGER_PATH = Path(__file__).parent / "data" / "jambonz" / "jambonz-swagger.yaml"


# -- swagger validation ----------------------------------------------------------------------
class SwaggerValidator:
    """Checks a request against jambonz-swagger.yaml: the operation exists under /v1, required
    path and query params are present and typed, and the JSON body validates against the
    operation's requestBody schema ($refs resolved)."""

    # Query params the api-server code accepts beyond the swagger (PROVIDER_NOTES §4.2/§4.3).
    EXTRA_QUERY = {
        ("/PhoneNumbers", "get"): {"account_sid", "service_provider_sid", "filter", "page", "page_size"}
    }

    def __init__(self, path: Path = SWAGGER_PATH):
        self.spec = yaml.safe_load(path.read_text())
        assert self.spec["servers"][0]["url"] == "/v1"
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t.rstrip("/")) + "/?$"), t)
            for t in self.spec["paths"]
        ]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target: Any = self.spec
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                extra = {k: v for k, v in node.items() if k not in ("$ref", "description", "example")}
                return self.resolve({**target, **extra})
            return {k: self.resolve(v) for k, v in node.items() if k != "example"}
        if isinstance(node, list):
            return [self.resolve(v) for v in node]
        return node

    def operation(self, method: str, url_path: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        assert "/v1/" in url_path, url_path
        rel = url_path[url_path.index("/v1/") + 3 :]
        matches = [t for rx, t in self.templates if rx.match(rel)]
        # A literal segment beats a parameter (e.g. /Accounts/x/Calls vs /Accounts/{sid}).
        matches.sort(key=lambda t: t.count("{"))
        assert matches, f"{method} {rel} is not a path in the swagger"
        template = matches[0]
        item = self.spec["paths"][template]
        op = item.get(method.lower())
        assert op is not None, f"{method} {template} is not an operation in the swagger"
        params = [self.resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
        return template, op, params

    def validate(self, request: httpx.Request) -> str:
        template, op, params = self.operation(request.method, request.url.path)
        assert request.headers.get("authorization", "").startswith("Bearer "), "no Bearer token"
        query = dict(request.url.params)
        declared = {p["name"] for p in params if p["in"] == "query"}
        for p in params:
            if p["in"] == "query" and p.get("required"):
                assert p["name"] in query, f"{template}: missing required query param {p['name']}"
            if p["in"] == "query" and p["name"] in query:
                self._check_param(p, query[p["name"]])
        undeclared = set(query) - declared - self.EXTRA_QUERY.get((template, request.method.lower()), set())
        assert not undeclared, f"{template}: query params not in the swagger: {undeclared}"
        body = request.content
        if request.method in ("POST", "PUT"):
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            assert schema is not None, f"{request.method} {template} takes no JSON body"
            assert request.headers["content-type"].startswith("application/json")
            jsonschema.Draft7Validator(
                self.resolve(schema), format_checker=jsonschema.FormatChecker()
            ).validate(json.loads(body))
        return f"{request.method} {template}"

    @staticmethod
    def _check_param(param: dict[str, Any], value: str) -> None:
        schema = param.get("schema", {})
        if schema.get("type") in ("number", "integer"):
            assert re.fullmatch(r"-?\d+", value), f"{param['name']}={value!r} is not an integer"
        if schema.get("format") == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        if "enum" in schema:
            assert value in [str(v).lower() for v in schema["enum"]]


SWAGGER = SwaggerValidator()


# -- fixtures ---------------------------------------------------------------------------------
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)


def make_adapter(handler: Handler, **conn: Any) -> tuple[JambonzAdapter, Recorder]:
    recorder = Recorder(handler)
    connection = Connection(
        base_url=BASE,
        credentials={"api_key": "38700987-c7a4-4685-a5bb-af378f9734de", "account_sid": ACCOUNT_SID},
        remote_account_id=ACCOUNT_SID,
        webhook_secret=conn.pop("webhook_secret", SECRET),
        options=conn.pop("options", {}),
    )
    adapter = build_adapter("jambonz", connection, transport=httpx.MockTransport(recorder))
    assert isinstance(adapter, JambonzAdapter)
    return adapter, recorder


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        if isinstance(body, bytes | str):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


# Examples from jambonz-rest-api.md and PROVIDER_NOTES §4, verbatim where the docs give them.
DOC_ACCOUNT = {
    "account_sid": ACCOUNT_SID,
    "name": "pactolus",
    "sip_realm": "pactolus.com",
    "service_provider_sid": SP_SID,
    "is_active": 1,
    "registration_hook": {"url": "https://app.pactolus.com/reg"},
    "device_calling_hook": {"url": "https://app.pactolus/deviceCall"},
}
DOC_LIVE_CALL = {
    "service_url": "http://172.31.3.33:4001",
    "call_sid": "ba01d74c-397e-4c80-9c8f-d57515ca8e86",
    "account_sid": ACCOUNT_SID,
    "application_sid": "0e0681b0-d49f-4fb8-b973-b5a3c6758de1",
    "caller_name": "+15083084809",
    "call_id": "95863901-c3c5-1238-6185-06d91d68c9b0",
    "sip_status": "200",
    "call_status": "completed",
    "duration": 182,
    "originating_sip_ip": "64.172.60.1:5060",
    "originating_sip_trunk_name": "cheaprates",
}
DOC_CDR = {
    "account_sid": ACCOUNT_SID,
    "service_provider_sid": SP_SID,
    "call_sid": "2531329f-fb09-4ef7-887e-84e648214436",
    "application_sid": "0e0681b0-d49f-4fb8-b973-b5a3c6758de1",
    "from": "15083084809",
    "to": "+16172375089",
    "answered": True,
    "sip_callid": "foo@127.0.0.1",
    "sip_status": 200,
    "duration": 22,
    "attempted_at": "2024-03-01T10:00:00.123Z",
    "answered_at": "2024-03-01T10:00:10.000Z",
    "terminated_at": "2024-03-01T10:00:32.000Z",
    "termination_reason": "caller hungup",
    "host": "10.0.0.1",
    "remote_host": "3.3.3.3",
    "trunk": "twilio",
    "direction": "outbound",
}


def signed(
    payload: Any, secret: str = SECRET, t: int | None = None, raw: bytes | None = None
) -> WebhookRequest:
    body = raw if raw is not None else json.dumps(payload, separators=(",", ":")).encode()
    t = int(time.time()) if t is None else t
    sig = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return WebhookRequest(
        method="POST",
        path="/hooks/jambonz/tok/call-status/",
        headers={"jambonz-signature": f"t={t},v1={sig}", "content-type": "application/json"},
        query={},
        body=body,
        content_type="application/json",
    )


# -- declaration -------------------------------------------------------------------------------
def test_adapter_declares_jambonz_capabilities_without_history_of_messages_recordings_or_balance():
    assert JambonzAdapter.code == "jambonz"
    assert JambonzAdapter.credential_shapes == (("api_key", "account_sid"),)
    assert JambonzAdapter.webhook_kinds == ("call-status", "call", "sms")
    for cap in (Capability.SEND_SMS, Capability.PLACE_CALL, Capability.CALLS, Capability.NUMBERS):
        assert JambonzAdapter.supports(cap)
    for cap in (Capability.MESSAGES, Capability.RECORDINGS, Capability.BALANCE, Capability.SEND_MMS):
        assert not JambonzAdapter.supports(cap)
    adapter, recorder = make_adapter(reply(200, {}))
    for call in (
        adapter.get_balance,
        lambda: adapter.list_messages(None),
        lambda: adapter.list_recordings(None),
    ):
        with pytest.raises(NotSupported):
            call()
    assert recorder.requests == []


def test_requests_carry_bearer_token_and_go_to_the_accounts_base_url():
    adapter, recorder = make_adapter(reply(200, DOC_ACCOUNT))
    adapter.check_credentials()
    request = recorder.requests[0]
    assert request.headers["authorization"] == "Bearer 38700987-c7a4-4685-a5bb-af378f9734de"
    assert str(request.url) == f"{BASE}/Accounts/{ACCOUNT_SID}"


def test_validate_credentials_needs_api_key_and_account_sid():
    assert JambonzAdapter.validate_credentials({"api_key": " k ", "account_sid": "a", "x": 1}) == {
        "api_key": "k",
        "account_sid": "a",
    }
    with pytest.raises(ValueError):
        JambonzAdapter.validate_credentials({"api_key": "k"})


# -- documented examples parse ------------------------------------------------------------------
def test_get_account_example_parses_to_account_info_without_secrets():
    adapter, _ = make_adapter(reply(200, {**DOC_ACCOUNT, "webhook_secret": "wh_secret_zz"}))
    info = adapter.check_credentials()
    assert (info.remote_id, info.name, info.currency) == (ACCOUNT_SID, "pactolus", "")
    assert "webhook_secret" not in info.raw


def test_create_call_example_returns_call_sid_and_trying():
    adapter, recorder = make_adapter(
        reply(201, {"sid": "9210add6-9573-4860-a003-648c7829faaa", "callId": "abc@10.0.0.1"})
    )
    result = adapter.place_call(
        CallRequest(
            from_number="+15083728299",
            to_number="+16172375089",
            action={"say": "hello"},
            answer_url="https://app.example.com/hooks/jambonz/tok/call/",
            status_url="https://app.example.com/hooks/jambonz/tok/call-status/",
            timeout=30,
        )
    )
    assert result.remote_id == "9210add6-9573-4860-a003-648c7829faaa"
    assert (result.status, result.raw_status, result.cost, result.currency) == (
        CallState.QUEUED,
        "trying",
        None,
        "",
    )
    body = json.loads(recorder.requests[0].content)
    assert body["to"] == {"type": "phone", "number": "+16172375089"}
    assert body["call_hook"] == {"url": "https://app.example.com/hooks/jambonz/tok/call/"}
    assert body["call_status_hook"] == {"url": "https://app.example.com/hooks/jambonz/tok/call-status/"}
    assert body["timeout"] == 30 and "application_sid" not in body
    assert body["speech_synthesis_vendor"] and body["speech_recognizer_language"]
    assert body["tag"] == {"switchboard_action": {"say": "hello"}}


def test_place_call_uses_the_application_when_there_is_no_answer_url():
    adapter, recorder = make_adapter(reply(201, {"sid": "s1"}), options={"application_sid": "app-1"})
    adapter.place_call(CallRequest("+1508", "+1617", {}))
    body = json.loads(recorder.requests[0].content)
    assert (
        body["application_sid"] == "app-1"
        and "call_hook" not in body
        and "speech_synthesis_vendor" not in body
    )


def test_place_call_without_answer_url_or_application_is_rejected_before_sending():
    adapter, recorder = make_adapter(reply(201, {"sid": "s1"}))
    with pytest.raises(Rejected):
        adapter.place_call(CallRequest("+1508", "+1617", {"play": "https://x/a.mp3"}))
    assert recorder.requests == []


def test_create_sms_example_returns_message_sid_as_sent():
    body = {"sid": "6cc512e7-1dea-4cf6-bcca-e5a638884524", "providerResponse": {"responseText": "OK"}}
    adapter, recorder = make_adapter(reply(201, body), options={"sms_provider": "peerless"})
    result = adapter.send_sms(SmsRequest("+13322060388", "+15083084809", "please call when you can"))
    assert result.remote_id == "6cc512e7-1dea-4cf6-bcca-e5a638884524"
    assert result.status == MessageStatus.SENT and result.cost is None
    assert json.loads(recorder.requests[0].content) == {
        "from": "+13322060388",
        "to": "+15083084809",
        "text": "please call when you can",
        "provider": "peerless",
    }


def test_feature_server_200_carrier_response_is_accepted_too():
    adapter, _ = make_adapter(reply(200, {"sid": "m1", "carrierResponse": {"x": 1}}))
    assert adapter.send_sms(SmsRequest("+1", "+2", "hi")).remote_id == "m1"


def test_recent_calls_example_parses_answered_cdr_with_aware_utc_times_and_e164_numbers():
    page = {"total": 1, "page_size": "25", "page": "1", "data": [DOC_CDR]}
    adapter, _ = make_adapter(reply(200, page))
    result = adapter.list_calls(None)
    (call,) = result.items
    assert call.remote_id == DOC_CDR["call_sid"]
    assert call.direction == Direction.OUTBOUND
    assert (call.from_number, call.to_number) == ("+15083084809", "+16172375089")
    assert (call.state, call.raw_state) == (CallState.COMPLETED, "completed")
    assert call.created_at == datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert call.answered_at == datetime(2024, 3, 1, 10, 0, 10, tzinfo=UTC)
    assert call.ended_at == datetime(2024, 3, 1, 10, 0, 32, tzinfo=UTC)
    assert call.duration == 22 and call.cost is None and call.currency == ""
    assert call.raw["sip_status"] == 200 and call.raw["termination_reason"] == "caller hungup"
    assert result.done


@pytest.mark.parametrize(
    ("sip_status", "state", "raw_state"),
    [
        (486, CallState.BUSY, "busy"),
        (603, CallState.BUSY, "busy"),
        (487, CallState.NO_ANSWER, "no-answer"),
        (480, CallState.NO_ANSWER, "no-answer"),
        (503, CallState.FAILED, "failed"),
        (404, CallState.FAILED, "failed"),
    ],
)
def test_unanswered_cdr_state_comes_from_its_final_sip_status(sip_status, state, raw_state):
    row = {**DOC_CDR, "answered": False, "sip_status": sip_status, "duration": 0, "answered_at": None}
    adapter, _ = make_adapter(reply(200, {"total": 1, "page_size": "25", "page": "1", "data": [row]}))
    (call,) = adapter.list_calls(None).items
    assert (call.state, call.raw_state, call.answered_at, call.duration) == (state, raw_state, None, 0)


def test_swagger_shaped_recent_calls_with_batch_and_epoch_millis_parse_too():
    ms = int(datetime(2024, 3, 1, 10, 0, tzinfo=UTC).timestamp() * 1000)
    row = {**DOC_CDR, "attempted_at": ms, "answered_at": ms + 10_000, "terminated_at": ms + 32_000}
    adapter, _ = make_adapter(reply(200, {"total": 1, "batch": 25, "page": 1, "data": [row]}))
    (call,) = adapter.list_calls(None).items
    assert call.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert call.ended_at - call.created_at == timedelta(seconds=32)


def test_get_call_falls_back_to_the_live_call_example_when_no_cdr_exists():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/RecentCalls"):
            return httpx.Response(200, json={"total": 0, "page_size": "25", "page": "1", "data": []})
        return httpx.Response(200, json=DOC_LIVE_CALL)

    adapter, recorder = make_adapter(handler)
    call = adapter.get_call("ba01d74c-397e-4c80-9c8f-d57515ca8e86")
    assert (call.state, call.duration, call.raw["sip_status"]) == (CallState.COMPLETED, 182, "200")
    assert call.created_at.tzinfo is not None and call.ended_at is not None
    assert recorder.requests[0].url.params["filter"] == "ba01d74c-397e-4c80-9c8f-d57515ca8e86"
    assert (
        recorder.requests[1].url.path
        == f"/v1/Accounts/{ACCOUNT_SID}/Calls/ba01d74c-397e-4c80-9c8f-d57515ca8e86"
    )


def test_get_call_prefers_the_cdr_with_real_timestamps():
    adapter, recorder = make_adapter(
        reply(200, {"total": 1, "page_size": "25", "page": "1", "data": [DOC_CDR]})
    )
    assert adapter.get_call(DOC_CDR["call_sid"]).created_at.year == 2024
    assert len(recorder.requests) == 1


def test_get_call_unknown_everywhere_is_rejected_not_found():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/RecentCalls"):
            return httpx.Response(200, json={"total": 0, "page_size": "25", "page": "1", "data": []})
        return httpx.Response(404)

    adapter, _ = make_adapter(handler)
    with pytest.raises(Rejected, match="not found"):
        adapter.get_call("nope")


def test_phone_numbers_bare_array_parses_to_e164_numbers_of_this_account_only():
    rows = [
        {
            "phone_number_sid": "n1",
            "number": "15083084809",
            "voip_carrier_sid": "c1",
            "account_sid": ACCOUNT_SID,
        },
        {
            "phone_number_sid": "n2",
            "number": "+46701234567",
            "voip_carrier_sid": "c1",
            "account_sid": ACCOUNT_SID,
        },
        {
            "phone_number_sid": "n3",
            "number": "442071234567",
            "voip_carrier_sid": "c1",
            "account_sid": "someone-else",
        },
    ]
    adapter, _ = make_adapter(reply(200, rows))
    page = adapter.list_numbers(None)
    assert [(n.remote_id, n.number, n.country) for n in page.items] == [
        ("n1", "+15083084809", "US"),
        ("n2", "+46701234567", "SE"),
    ]
    assert page.done and page.cursor is None
    assert page.items[0].cost is None and "voice" in page.items[0].capabilities


def test_phone_numbers_paged_shape_walks_pages():
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        data = [
            {"phone_number_sid": f"n{page}-{i}", "number": f"1508308{page}{i:03d}"}
            for i in range(2 if page == 1 else 1)
        ]
        return httpx.Response(200, json={"total": 3, "page": page, "page_size": 2, "data": data})

    adapter, _ = make_adapter(handler)
    adapter.numbers_page_size = 2
    first = adapter.list_numbers(None)
    assert not first.done and len(first.items) == 2
    second = adapter.list_numbers(first.cursor)
    assert second.done and [n.remote_id for n in second.items] == ["n2-0"]


def test_subaccounts_list_the_service_providers_other_accounts():
    rows = [
        {**DOC_ACCOUNT},
        {
            **DOC_ACCOUNT,
            "account_sid": "b1",
            "name": "Customer 1",
            "is_active": 0,
            "created_at": "2024-01-02T03:04:05Z",
        },
    ]
    adapter, recorder = make_adapter(reply(200, rows), options={"service_provider_sid": SP_SID})
    page = adapter.list_subaccounts(None)
    assert [(s.remote_id, s.name, s.active) for s in page.items] == [("b1", "Customer 1", False)]
    assert page.items[0].created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert recorder.requests[0].url.path == f"/v1/ServiceProviders/{SP_SID}/Accounts"


def test_subaccounts_need_the_service_provider_option():
    adapter, recorder = make_adapter(reply(200, []))
    with pytest.raises(NotSupported):
        adapter.list_subaccounts(None)
    with pytest.raises(NotSupported):
        adapter.create_subaccount("x")
    assert recorder.requests == []


def test_create_subaccount_example_creates_account_and_an_account_key():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ApiKeys"):
            return httpx.Response(
                201, json={"sid": "9d26a637", "token": "589cead6-de24-4689-8ac3-08ffaf102811"}
            )
        return httpx.Response(201, json={"sid": "65cddc02-6cf8-476c-97a8-1941a96e143b"})

    adapter, recorder = make_adapter(handler, options={"service_provider_sid": SP_SID})
    sub = adapter.create_subaccount("brandon's account")
    assert sub.remote_id == "65cddc02-6cf8-476c-97a8-1941a96e143b" and sub.name == "brandon's account"
    assert sub.credentials == {
        "api_key": "589cead6-de24-4689-8ac3-08ffaf102811",
        "account_sid": "65cddc02-6cf8-476c-97a8-1941a96e143b",
    }
    assert json.loads(recorder.requests[0].content) == {
        "name": "brandon's account",
        "service_provider_sid": SP_SID,
    }


def test_create_subaccount_survives_a_failed_key_creation_instead_of_retrying_the_account():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ApiKeys"):
            return httpx.Response(500, json={"msg": "db down"})
        return httpx.Response(201, json={"sid": "acc-1"})

    adapter, _ = make_adapter(handler, options={"service_provider_sid": SP_SID})
    sub = adapter.create_subaccount("x")
    assert sub.remote_id == "acc-1" and sub.credentials is None and sub.raw["api_key_error"] == "db down"


def test_subaccount_usage_limits_are_not_supported():
    adapter, _ = make_adapter(reply(201, {"sid": "x"}), options={"service_provider_sid": SP_SID})
    with pytest.raises(NotSupported):
        adapter.create_subaccount("x", usage_limit=Decimal("10"))


def test_update_subaccount_puts_the_account_schema_then_reads_it_back():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(204)
        return httpx.Response(200, json={**DOC_ACCOUNT, "account_sid": "b1", "name": "Renamed"})

    adapter, recorder = make_adapter(handler, options={"service_provider_sid": SP_SID})
    sub = adapter.update_subaccount("b1", name="Renamed")
    assert (sub.remote_id, sub.name) == ("b1", "Renamed")
    assert json.loads(recorder.requests[0].content) == {
        "account_sid": "b1",
        "name": "Renamed",
        "service_provider_sid": SP_SID,
    }


# -- every request matches the swagger ----------------------------------------------------------
def test_every_request_the_adapter_makes_validates_against_the_swagger():
    def handler(request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path.endswith("/RecentCalls"):
            return httpx.Response(200, json={"total": 2, "page_size": "1", "page": "1", "data": [DOC_CDR]})
        if path.endswith("/ApiKeys"):
            return httpx.Response(201, json={"sid": "k", "token": "t"})
        if method == "PUT":
            return httpx.Response(204)
        if method == "POST":
            return httpx.Response(201, json={"sid": "2531329f-fb09-4ef7-887e-84e648214436"})
        if path.endswith("/PhoneNumbers"):
            return httpx.Response(200, json=[])
        if path.endswith("/Accounts") and "ServiceProviders" in path:
            return httpx.Response(200, json=[DOC_ACCOUNT])
        if "/Calls/" in path:
            return httpx.Response(200, json=DOC_LIVE_CALL)
        return httpx.Response(200, json=DOC_ACCOUNT)

    adapter, recorder = make_adapter(handler, options={"service_provider_sid": SP_SID})
    adapter.calls_page_size = 1
    adapter.check_credentials()
    first = adapter.list_calls(None)
    adapter.list_calls(first.cursor)
    adapter.list_calls(json.dumps({"start": "2024-03-01T00:00:00Z"}))
    adapter.get_call("2531329f-fb09-4ef7-887e-84e648214436")
    adapter.get_call("nope")
    adapter.list_numbers(None)
    adapter.list_subaccounts(None)
    adapter.create_subaccount("new one")
    adapter.update_subaccount("65cddc02-6cf8-476c-97a8-1941a96e143b", name="renamed")
    adapter.send_sms(SmsRequest("+13322060388", "+15083084809", "hi"))
    adapter.place_call(
        CallRequest("+15083728299", "+16172375089", {"say": "x"}, answer_url="https://a.example/c")
    )
    seen = {SWAGGER.validate(r) for r in recorder.requests}
    assert seen == {
        "GET /Accounts/{AccountSid}",
        "GET /Accounts/{AccountSid}/RecentCalls",
        "GET /Accounts/{AccountSid}/Calls/{CallSid}",
        "GET /PhoneNumbers",
        "GET /ServiceProviders/{ServiceProviderSid}/Accounts",
        "POST /Accounts",
        "POST /ApiKeys",
        "PUT /Accounts/{AccountSid}",
        "POST /Accounts/{AccountSid}/Messages",
        "POST /Accounts/{AccountSid}/Calls",
    }


def test_place_call_with_application_validates_against_the_swagger():
    adapter, recorder = make_adapter(
        reply(201, {"sid": "s"}), options={"application_sid": "0e0681b0-d49f-4fb8-b973-b5a3c6758de1"}
    )
    adapter.place_call(CallRequest("+15083728299", "+16172375089", {}, status_url="https://a.example/s"))
    assert SWAGGER.validate(recorder.requests[0]) == "POST /Accounts/{AccountSid}/Calls"


def test_swagger_validator_catches_a_bad_body_and_a_missing_query_param():
    bad = httpx.Request(
        "POST",
        f"{BASE}/Accounts/{ACCOUNT_SID}/Calls",
        json={"from": "+1"},
        headers={"authorization": "Bearer x"},
    )
    with pytest.raises(jsonschema.ValidationError):
        SWAGGER.validate(bad)
    missing = httpx.Request(
        "GET", f"{BASE}/Accounts/{ACCOUNT_SID}/RecentCalls?page=1", headers={"authorization": "Bearer x"}
    )
    with pytest.raises(AssertionError, match="count"):
        SWAGGER.validate(missing)


# -- cursors -------------------------------------------------------------------------------------
def test_backfill_pins_the_window_end_and_walks_page_numbers_then_restarts_with_lookback():
    now = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rows = [{**DOC_CDR, "call_sid": f"c{page}-{i}"} for i in range(2 if page < 3 else 1)]
        return httpx.Response(200, json={"total": 5, "page_size": "2", "page": str(page), "data": rows})

    adapter, recorder = make_adapter(handler)
    adapter.calls_page_size = 2
    adapter.now = lambda: now  # type: ignore[method-assign]
    pages = [adapter.list_calls(None)]
    adapter.now = lambda: now + timedelta(minutes=5)  # type: ignore[method-assign]
    while not pages[-1].done:
        pages.append(adapter.list_calls(pages[-1].cursor))
    assert [p.done for p in pages] == [False, False, True]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    ends = {r.url.params["end"] for r in recorder.requests}
    assert ends == {"2024-03-10T12:00:00.000Z"}
    assert all("start" not in r.url.params for r in recorder.requests)
    assert json.loads(pages[-1].cursor) == {"start": "2024-03-08T12:00:00.000Z"}
    adapter.list_calls(pages[-1].cursor)
    assert recorder.requests[-1].url.params["start"] == "2024-03-08T12:00:00.000Z"
    assert recorder.requests[-1].url.params["end"] == "2024-03-10T12:05:00.000Z"
    assert recorder.requests[-1].url.params["page"] == "1"


def test_empty_history_is_done_at_once():
    adapter, _ = make_adapter(reply(200, {"total": 0, "page_size": "100", "page": "1", "data": []}))
    page = adapter.list_calls(None)
    assert page.done and page.items == [] and "start" in json.loads(page.cursor)


def test_garbage_cursor_is_rejected():
    adapter, _ = make_adapter(reply(200, {}))
    with pytest.raises(Rejected):
        adapter.list_calls("not json")


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "message"),
    [
        (
            400,
            {"msg": 'missing or invalid "page" query arg'},
            None,
            Rejected,
            'missing or invalid "page" query arg',
        ),
        (400, {"msg": "Bad request"}, None, Rejected, "Bad request"),
        (
            422,
            {"msg": "the phone number provided already exists in inventory"},
            None,
            Rejected,
            "already exists",
        ),
        (404, None, None, Rejected, "not found"),
        (404, {"message": "no configured SMS gateways"}, None, Rejected, "no configured SMS gateways"),
        (
            401,
            "Unauthorized",
            {"www-authenticate": 'Bearer realm="Users"'},
            AuthFailed,
            "refused the API key",
        ),
        (
            403,
            {"status": "fail", "message": "insufficient privileges"},
            None,
            AuthFailed,
            "insufficient privileges",
        ),
        (429, "Too many requests, please try again later.", {"retry-after": "12"}, RateLimited, "rate limit"),
        (
            480,
            {"msg": "no available feature servers at this time"},
            None,
            Unavailable,
            "no available feature",
        ),
        (500, {"msg": "Internal Server Error"}, None, Unavailable, "Internal Server Error"),
        (503, "<html>bad gateway</html>", None, Unavailable, "jambonz error 503"),
        (200, b'{"total": 12, "data": [{"call_sid": ', None, Unavailable, "malformed"),
        (200, b"<html>ok</html>", None, Unavailable, "malformed"),
    ],
)
def test_error_bodies_map_onto_the_error_classes(status, body, headers, error, message):
    adapter, _ = make_adapter(reply(status, body, headers))
    with pytest.raises(error, match=re.escape(message)) as info:
        adapter.list_calls(None)
    assert info.value.status == status


def test_rate_limit_reads_retry_after_then_ratelimit_reset():
    adapter, _ = make_adapter(reply(429, "Too many", {"retry-after": "12"}))
    with pytest.raises(RateLimited) as info:
        adapter.check_credentials()
    assert info.value.retry_after == 12
    adapter, _ = make_adapter(reply(429, "Too many", {"ratelimit-reset": "37"}))
    with pytest.raises(RateLimited) as info:
        adapter.check_credentials()
    assert info.value.retry_after == 37
    adapter, _ = make_adapter(reply(429, "Too many", {"ratelimit": "limit=600, remaining=0, reset=9"}))
    with pytest.raises(RateLimited) as info:
        adapter.check_credentials()
    assert info.value.retry_after == 9


def test_no_feature_server_480_means_the_call_was_not_started():
    adapter, _ = make_adapter(reply(480, {"msg": "no available feature servers at this time"}))
    with pytest.raises(Unavailable) as info:
        adapter.place_call(CallRequest("+1", "+2", {}, answer_url="https://a.example/c"))
    assert info.value.request_sent is False


def test_smpp_480_on_a_message_carries_the_smpp_error_code():
    body = {
        "sid": "m1",
        "message": "SMPP submit failed",
        "smpp_err_code": "0x0000000B",
        "carrier": "c",
        "message_id": None,
    }
    adapter, _ = make_adapter(reply(480, body))
    with pytest.raises(Unavailable, match="SMPP submit failed") as info:
        adapter.send_sms(SmsRequest("+1", "+2", "hi"))
    assert info.value.code == "0x0000000B"


def test_a_5xx_on_a_send_may_have_reached_jambonz():
    adapter, _ = make_adapter(reply(500, {"msg": "boom"}))
    with pytest.raises(Unavailable) as info:
        adapter.send_sms(SmsRequest("+1", "+2", "hi"))
    assert info.value.request_sent is True


def test_transport_timeout_is_unavailable_with_request_sent():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    adapter, _ = make_adapter(handler)
    with pytest.raises(Unavailable) as info:
        adapter.send_sms(SmsRequest("+1", "+2", "hi"))
    assert info.value.request_sent is True


# -- Jambonz-Signature -----------------------------------------------------------------------------
STATUS_HOOK = {
    "call_sid": "2531329f-fb09-4ef7-887e-84e648214436",
    "direction": "outbound",
    "from": "15083728299",
    "to": "16172375089",
    "call_id": "abc@10.0.0.1",
    "sbc_callid": "def@10.0.0.2",
    "sip_status": 200,
    "sip_reason": "OK",
    "call_status": "completed",
    "caller_id": "15083728299",
    "account_sid": ACCOUNT_SID,
    "application_sid": "0e0681b0-d49f-4fb8-b973-b5a3c6758de1",
    "trace_id": "0123",
    "fs_sip_address": "10.0.0.5:5070",
    "duration": 42,
    "call_termination_by": "caller",
}


def test_valid_signature_is_accepted():
    adapter, _ = make_adapter(reply(200, {}))
    adapter.verify_webhook(signed(STATUS_HOOK))


def test_forged_signature_is_refused():
    adapter, _ = make_adapter(reply(200, {}))
    with pytest.raises(WebhookRejected):
        adapter.verify_webhook(signed(STATUS_HOOK, secret="wh_secret_attacker"))


def test_missing_or_malformed_signature_header_is_refused():
    adapter, _ = make_adapter(reply(200, {}))
    request = signed(STATUS_HOOK)
    for headers in ({}, {"jambonz-signature": "garbage"}, {"jambonz-signature": "t=abc,v1=00"}):
        request.headers = headers
        with pytest.raises(WebhookRejected):
            adapter.verify_webhook(request)


def test_stale_timestamp_beyond_300_seconds_is_refused_even_with_a_valid_hmac():
    adapter, _ = make_adapter(reply(200, {}))
    with pytest.raises(WebhookRejected, match="tolerance"):
        adapter.verify_webhook(signed(STATUS_HOOK, t=int(time.time()) - 301))
    with pytest.raises(WebhookRejected, match="tolerance"):
        adapter.verify_webhook(signed(STATUS_HOOK, t=int(time.time()) + 400))
    adapter.verify_webhook(signed(STATUS_HOOK, t=int(time.time()) - 250))


def test_re_serialised_body_is_refused():
    adapter, _ = make_adapter(reply(200, {}))
    request = signed(STATUS_HOOK)
    request.body = json.dumps(json.loads(request.body), indent=1).encode()  # same data, other bytes
    with pytest.raises(WebhookRejected):
        adapter.verify_webhook(request)


def test_rotation_accepts_either_of_two_secrets():
    adapter, _ = make_adapter(reply(200, {}), webhook_secret="wh_secret_new, wh_secret_old")
    adapter.verify_webhook(signed(STATUS_HOOK, secret="wh_secret_old"))
    adapter.verify_webhook(signed(STATUS_HOOK, secret="wh_secret_new"))
    with pytest.raises(WebhookRejected):
        adapter.verify_webhook(signed(STATUS_HOOK, secret="wh_secret_other"))


def test_header_with_several_v1_values_passes_if_one_matches():
    adapter, _ = make_adapter(reply(200, {}))
    request = signed(STATUS_HOOK)
    request.headers["jambonz-signature"] = request.headers["jambonz-signature"].replace(
        ",v1=", ",v1=deadbeef,v1="
    )
    adapter.verify_webhook(request)


def test_no_configured_secret_refuses_everything():
    adapter, _ = make_adapter(reply(200, {}), webhook_secret="")
    with pytest.raises(WebhookRejected):
        adapter.verify_webhook(signed(STATUS_HOOK))


def test_signature_check_is_followed_by_the_ip_allowlist():
    adapter, _ = make_adapter(reply(200, {}), options={"allowed_ips": ["10.1.1.1"]})
    request = signed(STATUS_HOOK)
    request.remote_addr = "10.9.9.9"
    with pytest.raises(WebhookRejected, match="address"):
        adapter.verify_webhook(request)
    request.remote_addr = "10.1.1.1"
    adapter.verify_webhook(request)


# -- webhook parsing ---------------------------------------------------------------------------------
def test_call_status_hook_parses_to_a_call_status_event_with_a_replay_stable_id():
    adapter, _ = make_adapter(reply(200, {}))
    t = int(time.time())
    (event,) = adapter.parse_webhook("call-status", signed(STATUS_HOOK, t=t))
    assert event.type == EventType.CALL_STATUS
    assert event.event_id == "2531329f-fb09-4ef7-887e-84e648214436:completed:200"
    call = event.call
    assert (call.state, call.raw_state, call.duration) == (CallState.COMPLETED, "completed", 42)
    assert (call.from_number, call.to_number, call.direction) == (
        "+15083728299",
        "+16172375089",
        Direction.OUTBOUND,
    )
    assert call.ended_at == datetime.fromtimestamp(t, tz=UTC)
    assert call.answered_at == call.ended_at - timedelta(seconds=42)
    assert call.raw["sip_status"] == 200 and event.reply is None
    (again,) = adapter.parse_webhook("call-status", signed(STATUS_HOOK, t=t + 5))
    assert again.event_id == event.event_id


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("trying", CallState.QUEUED),
        ("ringing", CallState.RINGING),
        ("early-media", CallState.RINGING),
        ("in-progress", CallState.IN_PROGRESS),
        ("completed", CallState.COMPLETED),
        ("failed", CallState.FAILED),
        ("busy", CallState.BUSY),
        ("no-answer", CallState.NO_ANSWER),
        ("queued", CallState.QUEUED),
        ("something-new", CallState.UNKNOWN),
    ],
)
def test_every_jambonz_call_status_maps_to_a_call_state(raw, state):
    adapter, _ = make_adapter(reply(200, {}))
    payload = {**STATUS_HOOK, "call_status": raw}
    payload.pop("duration")
    (event,) = adapter.parse_webhook("call-status", signed(payload))
    assert (event.call.state, event.call.raw_state) == (state, raw)


def test_inbound_call_hook_is_a_ringing_call_and_gets_no_reply():
    payload = {
        **STATUS_HOOK,
        "direction": "inbound",
        "call_status": "trying",
        "sip_status": 100,
        "originating_sip_ip": "192.0.2.10",
        "service_provider_sid": SP_SID,
        "defaults": {"synthesizer": {"vendor": "google"}, "recognizer": {"vendor": "google"}},
        "sip": {"headers": {}},
    }
    payload.pop("duration")
    adapter, _ = make_adapter(reply(200, {}))
    (event,) = adapter.parse_webhook("call", signed(payload))
    assert event.type == EventType.CALL_STATUS
    assert (event.call.state, event.call.direction) == (CallState.RINGING, Direction.INBOUND)
    assert event.reply is None


def test_call_hook_for_a_placed_call_answers_with_the_actions_verbs():
    payload = {
        **STATUS_HOOK,
        "call_status": "in-progress",
        "customerData": {"switchboard_action": {"connect": "+46701234567"}},
    }
    adapter, _ = make_adapter(reply(200, {}))
    (event,) = adapter.parse_webhook("call", signed(payload))
    assert event.call.state == CallState.IN_PROGRESS
    assert event.reply == [{"verb": "dial", "target": [{"type": "phone", "number": "+46701234567"}]}]


def test_actions_become_jambonz_verbs():
    assert verbs_for_action({"play": "https://x/a.mp3"}) == [
        {"verb": "play", "url": "https://x/a.mp3"},
        {"verb": "hangup"},
    ]
    assert verbs_for_action({"connect": "sip:bob@example.com"})[0]["target"][0] == {
        "type": "sip",
        "sipUri": "sip:bob@example.com",
    }
    assert verbs_for_action({}) == []


def test_inbound_sms_hook_parses_to_a_received_message():
    payload = {
        "carrier": "peerless",
        "message_sid": "6cc512e7-1dea-4cf6-bcca-e5a638884524",
        "account_sid": ACCOUNT_SID,
        "service_provider_sid": SP_SID,
        "application_sid": "0e0681b0-d49f-4fb8-b973-b5a3c6758de1",
        "from": "15083084809",
        "to": "13322060388",
        "cc": [],
        "text": "please call when you can",
        "media": [],
    }
    adapter, _ = make_adapter(reply(200, {}))
    t = int(time.time())
    (event,) = adapter.parse_webhook("sms", signed(payload, t=t))
    assert (event.type, event.event_id) == (EventType.MESSAGE_INBOUND, "6cc512e7-1dea-4cf6-bcca-e5a638884524")
    msg = event.message
    assert (msg.kind, msg.direction, msg.status) == (
        MessageKind.SMS,
        Direction.INBOUND,
        MessageStatus.RECEIVED,
    )
    assert (msg.from_number, msg.to_number, msg.body) == (
        "+15083084809",
        "+13322060388",
        "please call when you can",
    )
    assert msg.created_at == datetime.fromtimestamp(t, tz=UTC) and msg.cost is None


def test_inbound_sms_with_media_is_an_mms():
    payload = {
        "message_sid": "m2",
        "from": "15083084809",
        "to": "13322060388",
        "text": "",
        "media": ["https://x/p.jpg"],
    }
    adapter, _ = make_adapter(reply(200, {}))
    (event,) = adapter.parse_webhook("sms", signed(payload))
    assert event.message.kind == MessageKind.MMS and event.message.media[0].url == "https://x/p.jpg"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("success", MessageStatus.SENT),
        ("failure", MessageStatus.FAILED),
        ("no carriers", MessageStatus.FAILED),
    ],
)
def test_message_verb_action_hook_parses_to_a_status_update(raw, status):
    payload = {"message_sid": "m3", "message_status": raw, "message_failure_reason": "", "carrier": "c"}
    adapter, _ = make_adapter(reply(200, {}))
    (event,) = adapter.parse_webhook("sms", signed(payload))
    assert event.type == EventType.MESSAGE_STATUS
    assert (event.status_update.remote_id, event.status_update.status) == ("m3", status)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("call-status", b"not json"),
        ("call-status", b"[1,2]"),
        ("call-status", json.dumps({"call_status": "completed"}).encode()),
        ("sms", json.dumps({"text": "no sid"}).encode()),
        ("sms", json.dumps({"message_sid": "m", "text": "no numbers"}).encode()),
        ("voicemail", json.dumps(STATUS_HOOK).encode()),
    ],
)
def test_malformed_webhooks_are_rejected(kind, raw):
    adapter, _ = make_adapter(reply(200, {}))
    with pytest.raises(Rejected):
        adapter.parse_webhook(kind, signed(None, raw=raw))


def test_e164_restores_the_plus_jambonz_strips_and_leaves_sip_users_alone():
    assert e164("15083084809") == "+15083084809"
    assert e164("+46701234567") == "+46701234567"
    assert e164("sip:bob@example.com") == "sip:bob@example.com"
    assert e164("alice") == "alice"
    assert e164(None) == ""
