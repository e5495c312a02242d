"""Callr adapter against exact JSON bodies (httpx.MockTransport): parsing of the documented
examples, error mapping, request shape and webhook verification. No database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers.adapters import Connection, build_adapter
from providers.adapters.callr import CallrAdapter
from providers.adapters.callr.parse import parse_cdr, parse_did, parse_sms, parse_subaccount, sign
from providers.adapters.errors import (
    AuthFailed,
    NotSupported,
    RateLimited,
    Rejected,
    Unavailable,
    WebhookRejected,
)
from providers.adapters.records import (
    CallRequest,
    CallState,
    Direction,
    EventType,
    MessageStatus,
    SmsRequest,
    WebhookRequest,
)

BASE = "https://api.callr.com/json-rpc/v1.1"

# -- the documented examples (callr-objects.md, PROVIDER_NOTES §3) ----------------------------
DOC_SMS = {
    "b_customer_debit": "0.00",
    "b_customer_mode": "POSTPAID",
    "date_creation": "2024-04-24 00:42:42",
    "date_received": "2024-04-24 00:42:42",
    "date_sent": "2024-04-24 00:42:42",
    "date_update": "2024-04-24 00:42:42",
    "encoding": "GSM",
    "from": "(string)",
    "hash": "UNIQUEID",
    "nature": "ALERTING",
    "options": {},
    "parts": 0,
    "status": "ERROR",
    "status_error": "(string)",
    "text": "(string)",
    "to": "(string)",
    "type": "OUT",
    "user_data": "(string)",
}
DOC_CDR_IN = {
    "answer": "2024-04-24 00:42:42",
    "billing_customer_cost_label": "(string)",
    "billing_customer_credit_eur": "0.00",
    "billing_customer_debit_eur": "0.00",
    "callid": 0,
    "cli_country_code": "FR",
    "cli_name": "(string)",
    "cli_number": "+33612345678",
    "cli_number_type": "(string)",
    "cli_pres": "allowed_passed_screen",
    "customer_field": "(string)",
    "did_hash": "UNIQUEID",
    "did_intl_number": "+16469820800",
    "duration": 0,
    "duration_answered": 0,
    "duration_billed": 0,
    "hangup": "2024-04-24 00:42:42",
    "hangupcause": 0,
    "hangupsource": "CALLEE",
    "package_name": "(string)",
    "scenario_hash": "UNIQUEID",
    "scenario_name": "(string)",
    "start": "2024-04-24 00:42:42",
}
DOC_CDR_OUT = {
    "answer": "2024-04-24 00:42:42",
    "billing_customer_cost_label": "(string)",
    "billing_customer_credit_eur": "0.00",
    "billing_customer_debit_eur": "0.00",
    "callid": 0,
    "callid_in": 0,
    "cli_name": "(string)",
    "cli_number": "+33612345678",
    "cli_pres": "allowed_passed_screen",
    "customer_field": "(string)",
    "dialstatus": "NODIAL",
    "duration": 0,
    "duration_answered": 0,
    "duration_billed": 0,
    "hangup": "2024-04-24 00:42:42",
    "hangupcause": 0,
    "hangupsource": "GATEWAY",
    "number": "+447890123456",
    "number_country_code": "FR",
    "number_type": "(string)",
    "package_name": "(string)",
    "scenario_hash": "UNIQUEID",
    "scenario_name": "(string)",
    "start": "2024-04-24 00:42:42",
}
DOC_DID = {
    "app": "UNIQUEID",
    "class": "CLASSIC",
    "country_code": "FR",
    "hash": "UNIQUEID",
    "intl_number": "+447890123456",
    "local_number": "(string)",
    "local_number_f": "(string)",
    "type": "SPECIAL",
}
# PROVIDER_NOTES §3.6 (body shape) with an SMS object as `data`.
NOTES_EVENT = {
    "event_at": "2016-05-04T12:29:32.340Z",
    "event_id": "9422146236497234056PGNSmlw2sOrjq",
    "hook_hash": None,
    "try": 0,
    "type": "sms.mt.status_update",
    "data": {**DOC_SMS, "hash": "8242D945", "status": "SENT", "b_customer_debit": "4.50"},
}
AT = datetime(2024, 4, 24, 0, 42, 42, tzinfo=UTC)


def make(
    handler,
    credentials: dict[str, str] | None = None,
    *,
    secret: str = "",
    options: dict[str, Any] | None = None,
) -> CallrAdapter:
    conn = Connection(
        base_url=BASE,
        credentials=credentials or {"api_key": "key123"},
        webhook_secret=secret,
        options=options or {},
    )
    adapter = build_adapter("callr", conn, transport=httpx.MockTransport(handler))
    assert isinstance(adapter, CallrAdapter)
    return adapter


def answering(result: Any = None, *, error: dict | None = None, status: int = 200, seen: list | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        envelope = json.loads(request.content)
        if seen is not None:
            seen.append(request)
        body = {"jsonrpc": "2.0", "id": envelope["id"]}
        body.update({"error": error} if error else {"result": result})
        return httpx.Response(status, json=body)

    return handler


def adapter_offline(**kwargs) -> CallrAdapter:
    return make(lambda request: httpx.Response(500), **kwargs)


# -- parsing the documented objects -----------------------------------------------------------
def test_the_documented_sms_object_parses_to_normalized_values():
    msg = parse_sms(DOC_SMS, "EUR")
    assert msg.remote_id == "UNIQUEID"
    assert msg.direction == Direction.OUTBOUND
    assert msg.status == MessageStatus.FAILED and msg.raw_status == "ERROR"
    assert msg.error == "(string)"
    assert msg.created_at == AT and msg.created_at.tzinfo is not None
    assert msg.sent_at == AT
    assert msg.cost == Decimal("0") and isinstance(msg.cost, Decimal) and msg.currency == "EUR"
    assert msg.encoding == "GSM" and msg.parts is None  # 0 parts billed means unknown


def test_sms_debit_is_cents_with_decimals():
    msg = parse_sms({**DOC_SMS, "b_customer_debit": "1000.00"}, "EUR")  # the doc's "10 EUR"
    assert msg.cost == Decimal("10") and isinstance(msg.cost, Decimal)
    assert parse_sms({**DOC_SMS, "b_customer_debit": "4.50"}, "EUR").cost == Decimal("0.045")


def test_sms_currency_follows_the_connection_option():
    adapter = make(answering({**DOC_SMS, "b_customer_debit": "5"}), options={"currency": "USD"})
    msg = adapter.get_message("UNIQUEID")
    assert (msg.cost, msg.currency) == (Decimal("0.05"), "USD")


def test_inbound_sms_type_in_maps_to_inbound_and_received():
    msg = parse_sms({**DOC_SMS, "type": "IN", "status": "RECEIVED", "date_sent": None}, "EUR")
    assert msg.direction == Direction.INBOUND and msg.status == MessageStatus.RECEIVED
    assert msg.delivered_at == AT and msg.sent_at is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("CREATED", MessageStatus.QUEUED),
        ("PENDING", MessageStatus.SENDING),
        ("REMOTE_QUEUED", MessageStatus.SENDING),
        ("SENT", MessageStatus.SENT),
        ("DELIVERED", MessageStatus.DELIVERED),
        ("ERROR", MessageStatus.FAILED),
        ("FAILED", MessageStatus.FAILED),
        ("EXPIRED", MessageStatus.FAILED),
        ("RECEIVED", MessageStatus.RECEIVED),
        ("SOMETHING_NEW", MessageStatus.UNKNOWN),
    ],
)
def test_sms_statuses_map_and_keep_the_raw_word(raw: str, status: MessageStatus):
    msg = parse_sms({**DOC_SMS, "status": raw}, "EUR")
    assert msg.status == status and msg.raw_status == raw


def test_the_documented_inbound_cdr_parses():
    call = parse_cdr(DOC_CDR_IN, Direction.INBOUND)
    assert call.remote_id == "0" and call.direction == Direction.INBOUND
    assert (call.from_number, call.to_number) == ("+33612345678", "+16469820800")
    assert call.created_at == AT and call.answered_at == AT and call.ended_at == AT
    assert call.state == CallState.COMPLETED and call.raw_state == "CALLEE"
    assert call.cost == Decimal("0") and call.currency == "EUR" and call.duration == 0


def test_the_documented_outbound_cdr_parses_with_its_dialstatus():
    call = parse_cdr(DOC_CDR_OUT, Direction.OUTBOUND)
    assert (call.from_number, call.to_number) == ("+33612345678", "+447890123456")
    assert call.state == CallState.FAILED and call.raw_state == "NODIAL"


def test_cdr_debit_is_cents_in_eur():
    call = parse_cdr(
        {**DOC_CDR_OUT, "billing_customer_debit_eur": "1000.00"}, Direction.OUTBOUND
    )
    assert call.cost == Decimal("10") and call.currency == "EUR"


@pytest.mark.parametrize(
    ("dialstatus", "state"),
    [
        ("ANSWER", CallState.COMPLETED),
        ("BUSY", CallState.BUSY),
        ("NOANSWER", CallState.NO_ANSWER),
        ("CANCEL", CallState.CANCELED),
        ("CONGESTION", CallState.FAILED),
        ("CHANUNAVAIL", CallState.FAILED),
        ("NODIAL", CallState.FAILED),
    ],
)
def test_outbound_dialstatus_maps_to_call_state(dialstatus: str, state: CallState):
    assert (
        parse_cdr({**DOC_CDR_OUT, "dialstatus": dialstatus}, Direction.OUTBOUND).state
        == state
    )


@pytest.mark.parametrize(
    ("source", "state"),
    [("CALLER", CallState.CANCELED), ("CALLEE", CallState.NO_ANSWER), ("GATEWAY", CallState.FAILED)],
)
def test_unanswered_inbound_call_state_comes_from_the_hangup_source(source: str, state: CallState):
    raw = {**DOC_CDR_IN, "answer": "0000-00-00 00:00:00", "hangupsource": source}
    call = parse_cdr(raw, Direction.INBOUND)
    assert call.state == state and call.raw_state == source and call.answered_at is None


def test_the_documented_did_parses():
    number = parse_did(DOC_DID)
    assert (number.remote_id, number.number, number.country, number.category) == (
        "UNIQUEID",
        "+447890123456",
        "FR",
        "special",
    )


def test_sub_account_state_credit_is_cents_and_password_is_kept_only_when_given():
    raw = {
        "hash": "AB12CD34",
        "account": {"company": "Acme"},
        "credentials": {"login": "acme", "password": "pw"},
        "state": {"credit": "1000.00", "disabled": False, "archived": False},
    }
    sub = parse_subaccount(raw)
    assert (sub.remote_id, sub.name, sub.active) == ("AB12CD34", "Acme", True)
    assert sub.credentials == {"login": "acme", "password": "pw"}
    assert Decimal(sub.raw["credit"]) == Decimal("10") and "credentials" not in sub.raw
    archived = parse_subaccount({**raw, "state": {"archived": True}, "credentials": {}})
    assert archived.active is False and archived.credentials is None


# -- requests ------------------------------------------------------------------------------------
def test_send_sms_posts_a_positional_json_rpc_envelope_with_the_api_key():
    seen: list[httpx.Request] = []
    adapter = make(answering("8242D945", seen=seen))
    result = adapter.send_sms(
        SmsRequest("SMS", "+33612345678", "Hello", status_url="https://h.example/dlr", reference="msg-42")
    )
    assert result.remote_id == "8242D945" and result.status == MessageStatus.QUEUED
    (request,) = seen
    assert str(request.url) == BASE + "/"
    assert request.method == "POST"
    assert request.headers["authorization"] == "Api-Key key123"
    assert request.headers["content-type"].startswith("application/json-rpc")
    envelope = json.loads(request.content)
    assert envelope["jsonrpc"] == "2.0" and isinstance(envelope["id"], int)
    assert envelope["method"] == "sms.send"
    assert envelope["params"] == [
        "SMS",
        "+33612345678",
        "Hello",
        {"webhook": {"endpoint": "https://h.example/dlr"}, "user_data": "msg42"},
    ]


def test_send_sms_without_options_passes_null():
    seen: list[httpx.Request] = []
    make(answering("8242D945", seen=seen)).send_sms(SmsRequest("SMS", "+33612345678", "Hi"))
    assert json.loads(seen[0].content)["params"][3] is None


def test_login_and_password_use_basic_auth_and_login_as_sets_the_header():
    seen: list[httpx.Request] = []
    adapter = make(
        answering(1700000000, seen=seen),
        {"login": "jdoe", "password": "pw"},
        options={"login_as": "8242D945"},
    )
    info = adapter.check_credentials()
    assert info.remote_id == "jdoe"
    headers = seen[0].headers
    assert headers["authorization"] == "Basic " + base64.b64encode(b"jdoe:pw").decode()
    assert headers["callr-login-as"] == "account.hash 8242D945"
    assert json.loads(seen[0].content)["method"] == "system.get_timestamp"


def test_request_ids_increase():
    seen: list[httpx.Request] = []
    adapter = make(answering(1, seen=seen))
    adapter.check_credentials()
    adapter.check_credentials()
    assert [json.loads(r.content)["id"] for r in seen] == [1, 2]


def test_balance_is_the_prepaid_credit_decimal_string():
    balance = make(answering("123.45")).get_balance()
    assert balance.amount == Decimal("123.45") and isinstance(balance.amount, Decimal)
    assert balance.currency == "EUR"


def test_list_messages_asks_for_out_and_in_over_the_same_window():
    seen: list[httpx.Request] = []
    make(answering([], seen=seen)).list_messages(None)
    calls = [json.loads(r.content) for r in seen]
    assert [c["method"] for c in calls] == ["sms.get_list", "sms.get_list"]
    assert [c["params"][0] for c in calls] == ["OUT", "IN"]
    assert calls[0]["params"][1:] == calls[1]["params"][1:]
    lo, hi = (datetime.strptime(v, "%Y-%m-%d %H:%M:%S") for v in calls[0]["params"][1:])
    assert lo < hi


def test_place_call_uses_calls_realtime_with_a_target():
    seen: list[httpx.Request] = []
    adapter = make(answering("123456", seen=seen), options={"realtime_app": "ABCD1234"})
    result = adapter.place_call(CallRequest("+33123456789", "+33612345678", {"connect": "+33699999999"}, 999))
    assert result.remote_id == "123456" and result.status == CallState.QUEUED
    assert json.loads(seen[0].content)["params"] == [
        "ABCD1234",
        {"number": "+33612345678", "timeout": 300},
        {"cli": "+33123456789"},
    ]


def test_place_call_without_a_realtime_app_is_rejected_before_any_request():
    seen: list[httpx.Request] = []
    with pytest.raises(Rejected):
        make(answering("1", seen=seen)).place_call(CallRequest("+1", "+33612345678", {}))
    assert seen == []


def test_dry_run_estimates_and_recordings_are_not_supported():
    adapter = adapter_offline()
    with pytest.raises(NotSupported):
        adapter.estimate_sms(SmsRequest("SMS", "+33612345678", "x"))
    with pytest.raises(NotSupported):
        adapter.list_recordings(None)


def test_sub_account_usage_limits_are_not_supported_and_create_needs_a_contact_email():
    with pytest.raises(NotSupported):
        adapter_offline().create_subaccount("Acme", usage_limit=Decimal("10"))
    with pytest.raises(Rejected, match="contact email"):
        adapter_offline().create_subaccount("Acme")


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"code": 401, "message": "Authentication failed"}, AuthFailed),
        ({"code": 22, "message": "AUTHENTICATION_FAILED"}, AuthFailed),
        ({"code": -32602, "message": "Invalid params", "data": "sms.send takes 3..4 params"}, Rejected),
        ({"code": 151, "message": "Invalid property value", "data": {"property": "to"}}, Rejected),
        ({"code": 1000, "message": "SMS routing error"}, Rejected),
        ({"code": 100, "message": "This feature is not allowed."}, Rejected),
        ({"code": 150, "message": "Missing property"}, Rejected),
        ({"code": -32601, "message": "Method not found"}, NotSupported),
        ({"code": -32603, "message": "Internal error"}, Unavailable),
        ({"code": -32001, "message": "Server error"}, Unavailable),
        ({"code": 429, "message": "Too many requests"}, RateLimited),
        ({"code": 42, "message": "RATE_LIMIT_EXCEEDED"}, RateLimited),
    ],
)
def test_json_rpc_error_objects_map_to_the_error_hierarchy(error: dict, cls: type):
    with pytest.raises(cls) as info:
        make(answering(error=error)).get_balance()
    assert error["message"] in info.value.message
    assert info.value.code == str(error["code"])


def test_rejected_keeps_the_providers_message_and_detail():
    error = {"code": 151, "message": "Invalid property value", "data": {"property": "to"}}
    with pytest.raises(Rejected) as info:
        make(answering(error=error)).send_sms(SmsRequest("SMS", "12", "x"))
    assert info.value.message == "Invalid property value (property: to)"


def test_http_401_and_403_are_auth_failures():
    for status in (401, 403):
        with pytest.raises(AuthFailed):
            make(lambda request, s=status: httpx.Response(s, text="Unauthorized")).get_balance()


def test_http_429_is_rate_limited_with_retry_after():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"Retry-After": "7"}, json={"error": {"code": 429, "message": "slow"}}
        )

    with pytest.raises(RateLimited) as info:
        make(handler).get_balance()
    assert info.value.retry_after == 7


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_unavailable_and_maybe_sent(status: int):
    with pytest.raises(Unavailable) as info:
        make(lambda request: httpx.Response(status, text="oops")).send_sms(
            SmsRequest("SMS", "+33612345678", "x")
        )
    assert info.value.request_sent is True and info.value.status == status


@pytest.mark.parametrize(
    "body", [b"<html>gateway</html>", b'{"jsonrpc":"2.0","id":1,"result":[{"hash":', b"{}"]
)
def test_a_body_that_is_not_a_json_rpc_answer_is_unavailable(body: bytes):
    with pytest.raises(Unavailable, match="malformed"):
        make(lambda request: httpx.Response(200, content=body)).get_balance()


def test_a_transport_timeout_is_unavailable_with_request_sent():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(Unavailable) as info:
        make(handler).send_sms(SmsRequest("SMS", "+33612345678", "x"))
    assert info.value.request_sent is True


# -- webhooks ---------------------------------------------------------------------------------------
def hook(body: bytes, headers: dict[str, str] | None = None, addr: str = "176.10.154.199") -> WebhookRequest:
    return WebhookRequest(
        "POST",
        "/hooks/callr/tok/events/",
        {k.lower(): v for k, v in (headers or {}).items()},
        {},
        body,
        remote_addr=addr,
        content_type="application/json",
    )


SECRET = "s3cret"
SIGNED_BODY = json.dumps(NOTES_EVENT, separators=(",", ":")).encode()


def test_a_correctly_signed_webhook_is_accepted():
    request = hook(SIGNED_BODY, {"X-CALLR-HmacSignature": sign(SECRET, SIGNED_BODY)})
    adapter_offline(secret=SECRET).verify_webhook(request)


def test_a_forged_signature_is_refused():
    request = hook(SIGNED_BODY, {"X-CALLR-HmacSignature": sign("wrong", SIGNED_BODY)})
    with pytest.raises(WebhookRejected):
        adapter_offline(secret=SECRET).verify_webhook(request)


def test_a_missing_signature_is_refused_when_a_secret_is_configured():
    with pytest.raises(WebhookRejected):
        adapter_offline(secret=SECRET).verify_webhook(hook(SIGNED_BODY))


def test_a_reserialised_body_no_longer_matches_the_signature():
    reserialised = json.dumps(json.loads(SIGNED_BODY), indent=1).encode()
    assert json.loads(reserialised) == json.loads(SIGNED_BODY)
    request = hook(reserialised, {"X-CALLR-HmacSignature": sign(SECRET, SIGNED_BODY)})
    with pytest.raises(WebhookRejected):
        adapter_offline(secret=SECRET).verify_webhook(request)


def test_without_a_secret_only_the_source_address_is_checked():
    adapter_offline().verify_webhook(hook(SIGNED_BODY))
    guarded = adapter_offline(options={"allowed_ips": ["176.10.154.199"]})
    guarded.verify_webhook(hook(SIGNED_BODY))
    with pytest.raises(WebhookRejected):
        guarded.verify_webhook(hook(SIGNED_BODY, addr="10.0.0.1"))


def test_the_documented_status_update_event_parses_to_a_message_status():
    (event,) = adapter_offline().parse_webhook("events", hook(SIGNED_BODY))
    assert event.type == EventType.MESSAGE_STATUS
    assert event.event_id == "9422146236497234056PGNSmlw2sOrjq"
    update = event.status_update
    assert update is not None
    assert (update.remote_id, update.status, update.raw_status) == ("8242D945", MessageStatus.SENT, "SENT")
    assert update.occurred_at == AT
    assert update.cost == Decimal("0.045") and update.currency == "EUR"


def test_status_update_without_date_falls_back_to_event_at_with_milliseconds():
    body = {**NOTES_EVENT, "data": {"hash": "8242D945", "status": "ERROR", "status_error": "Unreachable"}}
    (event,) = adapter_offline().parse_webhook("events", hook(json.dumps(body).encode()))
    assert event.status_update.occurred_at == datetime(2016, 5, 4, 12, 29, 32, 340000, tzinfo=UTC)
    assert event.status_update.status == MessageStatus.FAILED and event.status_update.error == "Unreachable"


def test_an_inbound_sms_with_only_from_to_text_parses():
    body = {
        "event_at": "2016-05-04T12:29:32.340Z",
        "event_id": "E1",
        "hook_hash": "ABCDEF12",
        "try": 0,
        "type": "sms.mo",
        "data": {"from": "+33612345678", "to": "+33987654321", "text": "Hello"},
    }
    (event,) = adapter_offline().parse_webhook("events", hook(json.dumps(body).encode()))
    assert event.type == EventType.MESSAGE_INBOUND and event.event_id == "E1"
    msg = event.message
    assert msg is not None and msg.direction == Direction.INBOUND and msg.status == MessageStatus.RECEIVED
    assert (msg.from_number, msg.to_number, msg.body) == ("+33612345678", "+33987654321", "Hello")
    assert msg.created_at == datetime(2016, 5, 4, 12, 29, 32, 340000, tzinfo=UTC)
    assert msg.remote_id == "evt-E1"


@pytest.mark.parametrize(
    ("etype", "data", "direction", "state"),
    [
        (
            "call.inbound_start",
            {**DOC_CDR_IN, "answer": None, "hangup": None},
            Direction.INBOUND,
            CallState.RINGING,
        ),
        ("call.inbound_hangup", DOC_CDR_IN, Direction.INBOUND, CallState.COMPLETED),
        ("call.outbound_start", {**DOC_CDR_OUT, "hangup": None}, Direction.OUTBOUND, CallState.IN_PROGRESS),
        ("call.outbound_hangup", {**DOC_CDR_OUT, "dialstatus": "BUSY"}, Direction.OUTBOUND, CallState.BUSY),
    ],
)
def test_call_events_carry_a_call_from_the_cdr(
    etype: str, data: dict, direction: Direction, state: CallState
):
    body = {**NOTES_EVENT, "type": etype, "data": data}
    (event,) = adapter_offline().parse_webhook("events", hook(json.dumps(body).encode()))
    assert event.type == EventType.CALL_STATUS and event.call is not None
    assert event.call.direction == direction and event.call.state == state


@pytest.mark.parametrize(
    "etype", ["billing.credit", "did.assigned", "media.recording.new", "job.status_update"]
)
def test_other_events_are_verified_but_ignored(etype: str):
    body = {**NOTES_EVENT, "type": etype, "data": {"balance": "1000.00", "currency_code": "EUR"}}
    (event,) = adapter_offline().parse_webhook("events", hook(json.dumps(body).encode()))
    assert event.type == EventType.IGNORED and event.event_id == NOTES_EVENT["event_id"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event_id":"x"}',
        json.dumps({**NOTES_EVENT, "data": {"status": "SENT"}}).encode(),  # no hash
        json.dumps({**NOTES_EVENT, "type": "sms.mo", "data": None}).encode(),
        json.dumps({**NOTES_EVENT, "type": "call.inbound_hangup", "data": {"start": "garbage"}}).encode(),
    ],
)
def test_malformed_webhooks_are_rejected(body: bytes):
    with pytest.raises(Rejected):
        adapter_offline().parse_webhook("events", hook(body))


def test_the_event_id_header_is_used_when_the_body_has_none():
    body = {k: v for k, v in NOTES_EVENT.items() if k != "event_id"} | {"type": "billing.credit"}
    (event,) = adapter_offline().parse_webhook(
        "events", hook(json.dumps(body).encode(), {"X-CALLR-EventId": "H1"})
    )
    assert event.event_id == "H1"
