"""The Sipcentric adapter against exact bodies: every example in the v1 docs and the
provider notes, each error shape, and the webhook form. No sandbox, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from providers.adapters import build_adapter
from providers.adapters.base import Connection
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
    Capability,
    Direction,
    EventType,
    MessageStatus,
    SmsRequest,
    WebhookRequest,
)
from providers.adapters.sipcentric import SipcentricAdapter
from providers.adapters.sipcentric.parse import (
    error_message,
    message_status,
    parse_call,
    parse_message,
    to_e164,
    to_wire_number,
)

BASE = "https://pbx.sipcentric.com/api/v1"

# -- the v1 docs' examples, verbatim ------------------------------------------------------------
SMS_LIST = """{
  "totalItems": 188,
  "pageSize": 1,
  "page": 1,
  "items":  [
     {
      "type": "smsmessage",
      "uri": "https://pbx.sipcentric.com/api/v1/customers/me/sms/253368",
      "created" : "2014-03-10T13:37:00.000+0000",
      "direction": "out",
      "from": "01212854400",
      "to": "07902000000",
      "body": "Hey, this API is awesome!",
      "sendStatus": "sent",
      "deliveryStatus": 1,
      "cost": 0.1
    }
  ],
  "nextPage": "https://pbx.sipcentric.com/api/v1/customers/me/sms?pageSize=1&page=2"
}"""
SMS_ONE = """{
  "type" : "smsmessage",
  "uri" : "https://pbx.sipcentric.com/api/v1/customers/me/sms/253368",
  "created" : "2014-03-10T13:37:00.0000+0000",
  "direction" : "out",
  "from" : "07557000000",
  "to" : "07902000000",
  "body" : "Hey, this API is awesome!",
  "sendStatus" : "sent",
  "deliveryStatus" : 1,
  "cost" : 0.100
}"""
SMS_CREATED = """{
  "type": "smsmessage",
  "uri": "https://pbx.sipcentric.com/api/v1/customers/me/sms/253368",
  "direction": "out",
  "from": "07557000000",
  "to": "07902000000",
  "body": "Hey, this API is awesome!",
  "sendStatus": "sent",
  "deliveryStatus": 0,
  "cost": 0.1
}"""
CALL_LIST = """{
  "totalItems": 23686,
  "pageSize": 1,
  "page": 1,
  "items": [
    {
      "type": "call",
      "uri": "https://pbx.sipcentric.com/api/v1/customers/me/calls/7592317",
      "created" : "2014-03-10T13:37:00.000+0000",
      "callType": "domain",
      "direction": "IN",
      "from": "07557000000",
      "to": "07902000000",
      "callStarted": "2014-05-15T08:20:51.000+0000",
      "outcome": "no-answer",
      "duration": 0,
      "cost": 0,
      "callId": "ast01-1400142051.1562723",
      "linkedId": "ast01-1400142051.1562723",
      "links": {
        "recordings": "https://pbx.sipcentric.com/api/v1/customers/me/recordings?linkedId=ast01-1400142051.1562723"
      }
    }
  ],
  "nextPage": "https://pbx.sipcentric.com/api/v1/customers/me/calls?pageSize=1&page=2"
}"""
RECORDING_LIST = """{
  "totalItems" : 5788,
  "pageSize" : 1,
  "page" : 1,
  "items" : [
    {
      "type" : "recording",
      "uri" : "https://pbx.sipcentric.com/api/v1/customers/me/recordings/1358371",
      "created" : "2014-03-10T13:37:00.0000+0000",
      "direction" : "IN",
      "partyId" : "106",
      "started" : "2014-05-14T15:41:25.000+0000",
      "size" : 9615,
      "callId" : "ast01-1400082083.1542464",
      "linkedId" : "ast01-1400082083.1542464",
      "endpoint" : "https://pbx.sipcentric.com/api/v1/customers/me/endpoints/2535"
    }
  ],
  "nextPage" : "https://pbx.sipcentric.com/api/v1/customers/me/recordings?pageSize=1&page=2"
}"""
NUMBER_LIST = """{
  "totalItems": 15,
  "pageSize": 1,
  "page": 1,
  "items":  [
     {
      "type": "did",
      "uri": "https://pbx.sipcentric.com/api/v1/customers/me/phonenumbers/47",
      "created" : "2014-03-10T13:37:00.000+0000",
      "number": "01212854747",
      "identifier": "DID",
      "destination": "https://pbx.sipcentric.com/api/v1/customers/me/endpoints/94",
      "smsEnabled": true
    }
  ],
  "nextPage": "https://pbx.sipcentric.com/api/v1/customers/me/phonenumbers?pageSize=1&page=2"
}"""
CUSTOMER = """{
  "type": "customer",
  "uri": "https://pbx.sipcentric.com/api/v1/customers/25",
  "created" : "2014-03-10T13:37:00.000+0000",
  "company": "Bloggs co",
  "firstName": "Fred",
  "lastName": "Bloggs",
  "telephone": "07557000000",
  "email": "contact@fredbloggs.com",
  "address1": "60 Cleveland St",
  "address2": "Fitzrovia",
  "city": "London",
  "postcode": "W1T 4JZ",
  "links":  {
    "sms": "https://pbx.sipcentric.com/api/v1/customers/me/sms",
    "creditStatus": "https://pbx.sipcentric.com/api/v1/customers/me/creditstatus"
  }
}"""
CUSTOMER_LIST = (
    '{"totalItems": 1, "pageSize": 1, "page": 1, "items": [' + CUSTOMER.replace('"links"', '"x"') + "]}"
)
CREDIT_DOCS = """{
  "type": "creditstatus",
  "uri": "https://pbx.sipcentric.com/api/v1/customers/me/creditstatus",
  "accountType": "postpaid",
  "creditRemaining": 191.571
}"""
# PROVIDER_NOTES §2.2: the canonical field name.
CREDIT_NOTES = (
    '{"type":"creditstatus","uri":"https://pbx.sipcentric.com/api/v1/customers/me/creditstatus",'
    '"accountType":"PREPAID","balance":19.571}'
)


def mock_adapter(handler, **conn) -> SipcentricAdapter:
    connection = Connection(base_url=BASE, credentials={"username": "fred", "password": "s3cret"}, **conn)
    return build_adapter("sipcentric", connection, transport=httpx.MockTransport(handler))


def answer(status: int, body: str | bytes = b"", headers: dict | None = None):
    """A handler that records requests and always gives the same answer."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = body.encode() if isinstance(body, str) else body
        return httpx.Response(
            status, content=content, headers=headers or {"content-type": "application/json"}
        )

    handler.seen = seen
    return handler


# -- registry and contract ------------------------------------------------------------------
def test_registry_builds_the_sipcentric_adapter_with_basic_auth_and_json_accept():
    handler = answer(200, CUSTOMER)
    adapter = mock_adapter(handler)
    assert isinstance(adapter, SipcentricAdapter)
    adapter.check_credentials()
    request = handler.seen[0]
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"].startswith("Basic ")
    assert request.url.path == "/api/v1/customers/me"


def test_capabilities_leave_out_what_sipcentric_cannot_do():
    caps = SipcentricAdapter.capabilities
    assert {Capability.SEND_SMS, Capability.PLACE_CALL, Capability.BALANCE, Capability.WEBHOOKS} <= caps
    assert not caps & {Capability.SEND_MMS, Capability.DRY_RUN, Capability.ALLOCATE_NUMBER}
    assert Capability.CREATE_SUBACCOUNT not in caps
    adapter = mock_adapter(answer(200, "{}"))
    with pytest.raises(NotSupported):
        adapter.send_mms(SmsRequest("+447557000000", "+447902000000", "hi"))
    with pytest.raises(NotSupported):
        adapter.create_subaccount("x")
    with pytest.raises(NotSupported):
        adapter.allocate_number("GB", ["sms"])


def test_credentials_need_username_and_password():
    assert SipcentricAdapter.validate_credentials({"username": " fred ", "password": "pw"}) == {
        "username": "fred",
        "password": "pw",
    }
    with pytest.raises(ValueError):
        SipcentricAdapter.validate_credentials({"username": "fred"})


def test_remote_account_id_addresses_that_customer_instead_of_me():
    handler = answer(200, CREDIT_NOTES)
    mock_adapter(handler, remote_account_id="25").get_balance()
    assert handler.seen[0].url.path == "/api/v1/customers/25/creditstatus"


# -- docs examples -----------------------------------------------------------------------------
def test_sms_list_example_parses_to_normalized_values():
    adapter = mock_adapter(answer(200, SMS_LIST))
    page = adapter.list_messages(None)
    [message] = page.items
    assert message.remote_id == "253368"
    assert message.direction is Direction.OUTBOUND
    assert message.from_number == "+441212854400"
    assert message.to_number == "+447902000000"
    assert message.status is MessageStatus.DELIVERED
    assert message.created_at == datetime(2014, 3, 10, 13, 37, tzinfo=UTC)
    assert message.cost == Decimal("0.1") and message.currency == "GBP"
    assert page.done is False  # 188 items, one per page


def test_get_message_example_with_four_digit_fraction_parses():
    handler = answer(200, SMS_ONE)
    message = mock_adapter(handler).get_message("253368")
    assert handler.seen[0].url.path == "/api/v1/customers/me/sms/253368"
    assert message.created_at == datetime(2014, 3, 10, 13, 37, tzinfo=UTC)
    assert message.created_at.tzinfo is UTC
    assert message.cost == Decimal("0.100")
    assert message.from_number == "+447557000000"


def test_cost_is_pounds_as_decimal():
    message = parse_message(
        {"uri": "x/sms/1", "direction": "OUT", "cost": 0.1, "created": "2014-03-10T13:37:00Z"}
    )
    assert message.cost == Decimal("0.1")  # str(float), not the binary expansion
    assert isinstance(message.cost, Decimal)
    assert message.currency == "GBP"


def test_send_sms_posts_smsmessage_in_national_format_and_reads_the_201():
    handler = answer(
        201, SMS_CREATED, {"content-type": "application/json", "location": f"{BASE}/customers/me/sms/253368"}
    )
    result = mock_adapter(handler).send_sms(SmsRequest("+447557000000", "+447902000000", "Hey!"))
    sent = json.loads(handler.seen[0].content)
    assert handler.seen[0].method == "POST"
    assert handler.seen[0].url.path == "/api/v1/customers/me/sms"
    assert sent == {"type": "smsmessage", "to": "07902000000", "from": "07557000000", "body": "Hey!"}
    assert result.remote_id == "253368"
    assert result.status is MessageStatus.SENT
    assert result.cost == Decimal("0.1") and result.currency == "GBP"


def test_send_sms_with_unreadable_201_body_trusts_the_location_header():
    handler = answer(201, b"<html>", {"location": f"{BASE}/customers/me/sms/777"})
    result = mock_adapter(handler).send_sms(SmsRequest("+447557000000", "+447902000000", "Hey!"))
    assert result.remote_id == "777"


def test_send_sms_keeps_an_approved_sender_name_and_dials_abroad_with_00():
    handler = answer(201, SMS_CREATED)
    mock_adapter(handler).send_sms(SmsRequest("Sipcentric", "+46701234567", "Hej"))
    sent = json.loads(handler.seen[0].content)
    assert sent["from"] == "Sipcentric"
    assert sent["to"] == "0046701234567"


def test_call_list_example_maps_outcome_and_numbers():
    page = mock_adapter(answer(200, CALL_LIST)).list_calls(None)
    [call] = page.items
    assert call.remote_id == "ast01-1400142051.1562723"  # the key recordings refer to
    assert call.raw["uri"].endswith("/calls/7592317")
    assert call.direction is Direction.INBOUND
    assert call.state is CallState.NO_ANSWER  # "no-answer" in the example, NO_ANSWER in the table
    assert call.from_number == "+447557000000"
    assert call.created_at == datetime(2014, 5, 15, 8, 20, 51, tzinfo=UTC)
    assert call.duration == 0
    assert call.cost == Decimal("0") and call.currency == "GBP"


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        ("ANSWERED", CallState.COMPLETED),
        ("NO_ANSWER", CallState.NO_ANSWER),
        ("BUSY", CallState.BUSY),
        ("FAILED", CallState.FAILED),
        ("odd", CallState.UNKNOWN),
    ],
)
def test_call_outcomes_map_to_call_states(outcome, state):
    call = parse_call({"uri": "x/calls/1", "outcome": outcome, "callStarted": "2014-05-15T08:20:51.000+0000"})
    assert call.state is state


def test_answered_call_has_answer_and_end_times_from_start_and_duration():
    call = parse_call(
        {
            "uri": "x/calls/1",
            "outcome": "ANSWERED",
            "callStarted": "2014-05-15T08:20:51.000+0000",
            "duration": 60,
        }
    )
    assert call.answered_at == datetime(2014, 5, 15, 8, 20, 51, tzinfo=UTC)
    assert call.ended_at == datetime(2014, 5, 15, 8, 21, 51, tzinfo=UTC)


def test_recording_list_example_links_to_the_call_by_call_id():
    [rec] = mock_adapter(answer(200, RECORDING_LIST)).list_recordings(None).items
    assert rec.remote_id == "1358371"
    assert rec.call_remote_id == "ast01-1400082083.1542464"
    assert rec.size == 9615
    assert rec.created_at == datetime(2014, 5, 14, 15, 41, 25, tzinfo=UTC)
    assert rec.content_type == "audio/wav"


def test_recording_download_uses_the_wav_suffix_and_streams_bytes():
    handler = answer(200, b"RIFF....WAVE", {"content-type": "audio/wav"})
    adapter = mock_adapter(handler)
    [rec] = mock_adapter(answer(200, RECORDING_LIST)).list_recordings(None).items
    assert b"".join(adapter.download_recording(rec)) == b"RIFF....WAVE"
    assert handler.seen[0].url.path == "/api/v1/customers/me/recordings/1358371.wav"


def test_recording_download_404_is_rejected():
    adapter = mock_adapter(answer(404, '{"errors":[{"message":"Recording not found"}]}'))
    [rec] = mock_adapter(answer(200, RECORDING_LIST)).list_recordings(None).items
    with pytest.raises(Rejected, match="Recording not found"):
        b"".join(adapter.download_recording(rec))


def test_number_list_example_gives_e164_and_sms_capability():
    page = mock_adapter(answer(200, NUMBER_LIST.replace(',\n  "nextPage"', ', "x"'))).list_numbers(None)
    [number] = page.items
    assert number.remote_id == "47"
    assert number.number == "+441212854747"
    assert number.country == "GB"
    assert number.category == "fixed"
    assert "sms" in number.capabilities and "voice" in number.capabilities
    assert page.done is True and page.cursor is None


def test_number_list_follows_next_page():
    page = mock_adapter(answer(200, NUMBER_LIST)).list_numbers(None)
    assert page.done is False
    assert json.loads(page.cursor)["page"] == 2


def test_number_accepts_sms_capable_and_reports_the_notification_url():
    body = json.loads(NUMBER_LIST)
    item = body["items"][0]
    del item["smsEnabled"]
    item.update(smsCapable=True, smsNotificationUrl="https://example.com/hooks/sipcentric/t/sms/")
    del body["nextPage"]
    [number] = mock_adapter(answer(200, json.dumps(body))).list_numbers(None).items
    assert "sms" in number.capabilities
    assert number.sms_url == "https://example.com/hooks/sipcentric/t/sms/"


def test_customer_example_gives_account_info():
    info = mock_adapter(answer(200, CUSTOMER)).check_credentials()
    assert info.remote_id == "25"
    assert info.name == "Bloggs co"
    assert info.currency == "GBP"


def test_credit_status_balance_as_in_the_notes():
    balance = mock_adapter(answer(200, CREDIT_NOTES)).get_balance()
    assert balance.amount == Decimal("19.571") and balance.currency == "GBP"


def test_credit_status_credit_remaining_as_in_the_docs_example():
    balance = mock_adapter(answer(200, CREDIT_DOCS)).get_balance()
    assert balance.amount == Decimal("191.571")


def test_subaccounts_are_other_customers_under_a_reseller():
    body = json.loads(CUSTOMER_LIST)
    other = {**body["items"][0], "uri": f"{BASE}/customers/26", "company": "Other Ltd"}
    body["items"].append(other)
    page = mock_adapter(answer(200, json.dumps(body)), remote_account_id="25").list_subaccounts(None)
    assert [(s.remote_id, s.name) for s in page.items] == [("26", "Other Ltd")]
    assert page.done is True


def test_subaccounts_are_empty_when_the_user_is_not_a_reseller():
    page = mock_adapter(answer(403, '{"errors":[{"message":"Forbidden"}]}')).list_subaccounts(None)
    assert page.items == [] and page.done is True


# -- statuses --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "status"),
    [
        ({"direction": "IN"}, MessageStatus.RECEIVED),
        ({"direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 1}, MessageStatus.DELIVERED),
        ({"direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 2}, MessageStatus.FAILED),
        ({"direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 16}, MessageStatus.FAILED),
        ({"direction": "OUT", "sendStatus": "FAILED", "deliveryStatus": 0}, MessageStatus.FAILED),
        ({"direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 8}, MessageStatus.SENT),
        ({"direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 4}, MessageStatus.SENT),
        ({"direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 0}, MessageStatus.SENT),
        ({"direction": "OUT", "sendStatus": "PENDING"}, MessageStatus.SENDING),
        ({"direction": "out", "sendStatus": "sent", "deliveryStatus": 1}, MessageStatus.DELIVERED),
        ({"direction": "OUT"}, MessageStatus.UNKNOWN),
    ],
)
def test_send_and_delivery_status_map_to_message_status(item, status):
    assert message_status(item)[0] is status


def test_failed_message_explains_who_rejected_it():
    message = parse_message(
        {"uri": "x/sms/1", "direction": "OUT", "sendStatus": "SENT", "deliveryStatus": 16}
    )
    assert message.error == "Rejected by carrier."
    assert message.raw_status == "SENT/16"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("07902000000", "+447902000000"),
        ("01212854400", "+441212854400"),
        ("447902000000", "+447902000000"),
        ("+447902000000", "+447902000000"),
        ("0046701234567", "+46701234567"),
        ("Sales Group <500>", "Sales Group <500>"),
        ("106", "106"),
        ("Sipcentric", "Sipcentric"),
    ],
)
def test_uk_national_numbers_become_e164_and_names_stay(raw, e164):
    assert to_e164(raw) == e164


def test_wire_format_is_uk_national():
    assert to_wire_number("+447902000000") == "07902000000"
    assert to_wire_number("07902000000") == "07902000000"


# -- errors ----------------------------------------------------------------------------------
def test_401_is_auth_failed_without_the_password_in_the_message():
    adapter = mock_adapter(answer(401, '{"errors":[{"message":"Bad credentials"}]}'))
    with pytest.raises(AuthFailed) as exc:
        adapter.check_credentials()
    assert exc.value.status == 401
    assert "s3cret" not in exc.value.message and "fred" not in exc.value.message


def test_403_is_auth_failed_for_the_access_level():
    with pytest.raises(AuthFailed, match="not allowed"):
        mock_adapter(answer(403, '{"errors":[{"message":"Forbidden"}]}')).get_balance()


def test_400_with_validation_errors_is_rejected_with_field_messages():
    body = '{"validationErrors":[{"field":"to","message":"must be a valid phone number"}]}'
    with pytest.raises(Rejected) as exc:
        mock_adapter(answer(400, body)).send_sms(SmsRequest("+447557000000", "+44", "x"))
    assert exc.value.message == "to: must be a valid phone number"
    assert exc.value.status == 400


def test_400_with_errors_is_rejected_with_their_messages():
    body = '{"errors":[{"message":"From is not an approved caller ID"},"second"]}'
    with pytest.raises(Rejected, match="From is not an approved caller ID; second"):
        mock_adapter(answer(400, body)).send_sms(SmsRequest("Nope", "+447902000000", "x"))


def test_404_without_a_body_is_rejected_with_the_status():
    with pytest.raises(Rejected, match="HTTP 404"):
        mock_adapter(answer(404, "")).get_message("1")


def test_200_body_carrying_errors_is_rejected_like_the_official_client():
    with pytest.raises(Rejected, match="nope"):
        mock_adapter(answer(200, '{"errors":[{"message":"nope"}]}')).get_balance()


def test_error_message_accepts_the_shapes_seen_in_the_wild():
    assert error_message({"validationErrors": {"body": "may not be empty"}}) == "body: may not be empty"
    assert error_message({"errors": "boom"}) == "boom"
    assert error_message({"message": "plain"}) == "plain"
    assert error_message([1]) == ""


def test_429_is_rate_limited_with_retry_after():
    handler = answer(429, '{"errors":[{"message":"Too many requests"}]}', {"retry-after": "30"})
    with pytest.raises(RateLimited) as exc:
        mock_adapter(handler).list_messages(None)
    assert exc.value.retry_after == 30


def test_429_without_retry_after_uses_x_ratelimit_reset():
    handler = answer(
        429, "{}", {"x-ratelimit-limit": "1200", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "842"}
    )
    with pytest.raises(RateLimited) as exc:
        mock_adapter(handler).list_calls(None)
    assert exc.value.retry_after == 842


def test_503_is_unavailable_and_may_have_been_sent():
    with pytest.raises(Unavailable) as exc:
        mock_adapter(answer(503, '{"errors":[{"message":"Service Unavailable"}]}')).get_balance()
    assert exc.value.request_sent is True and exc.value.status == 503


def test_malformed_2xx_body_is_unavailable():
    with pytest.raises(Unavailable, match="malformed"):
        mock_adapter(answer(200, '{"totalItems": 12, "items": [{"ty')).list_messages(None)


def test_connection_refused_is_unavailable_not_sent():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unavailable) as exc:
        mock_adapter(handler).send_sms(SmsRequest("+447557000000", "+447902000000", "x"))
    assert exc.value.request_sent is False


def test_garbage_cursor_is_refused():
    with pytest.raises(ValueError):
        mock_adapter(answer(200, SMS_LIST)).list_messages("page=2")


# -- calls -----------------------------------------------------------------------------------
def test_place_call_posts_the_endpoint_uri_and_returns_no_remote_id():
    handler = answer(200, b"", {})
    endpoint = f"{BASE}/customers/me/endpoints/1234"
    result = mock_adapter(handler).place_call(CallRequest(endpoint, "+447902000000", {}))
    assert json.loads(handler.seen[0].content) == {"type": "call", "endpoint": endpoint, "to": "07902000000"}
    assert result.remote_id == "" and result.status is CallState.QUEUED


def test_place_call_from_an_extension_looks_up_its_endpoint():
    endpoints = {
        "totalItems": 2,
        "items": [
            {"type": "ivr", "uri": f"{BASE}/customers/me/endpoints/101", "shortNumber": "001"},
            {"type": "phone", "uri": f"{BASE}/customers/me/endpoints/102", "shortNumber": "201"},
        ],
    }
    seen = []

    def handler(request):
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json=endpoints)
        return httpx.Response(200)

    mock_adapter(handler).place_call(CallRequest("201", "+447902000000", {}))
    assert json.loads(seen[-1].content)["endpoint"] == f"{BASE}/customers/me/endpoints/102"


def test_place_call_from_a_phone_number_is_rejected_before_sending():
    handler = answer(200)
    with pytest.raises(Rejected, match="endpoint"):
        mock_adapter(handler).place_call(CallRequest("+447557000000", "+447902000000", {}))
    assert handler.seen == []


# -- webhooks --------------------------------------------------------------------------------
def sms_hook(body: bytes, addr: str = "1.2.3.4") -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/hooks/sipcentric/tok/sms/",
        headers={"content-type": "application/x-www-form-urlencoded"},
        query={},
        body=body,
        remote_addr=addr,
        content_type="application/x-www-form-urlencoded",
    )


def test_sms_webhook_form_is_an_inbound_message_with_a_derived_id_when_history_has_none():
    adapter = mock_adapter(answer(200, '{"totalItems":0,"items":[]}'))
    events = adapter.parse_webhook("sms", sms_hook(b"to=01212854400&from=07902000000&body=Hi+there&udh="))
    [event] = events
    assert event.type is EventType.MESSAGE_INBOUND and event.event_id is None
    message = event.message
    assert message.direction is Direction.INBOUND and message.status is MessageStatus.RECEIVED
    assert (message.from_number, message.to_number, message.body) == (
        "+447902000000",
        "+441212854400",
        "Hi there",
    )
    assert message.remote_id.startswith("wh-")
    again = adapter.parse_webhook("sms", sms_hook(b"to=01212854400&from=07902000000&body=Hi+there&udh="))
    assert again[0].message.remote_id == message.remote_id  # deterministic: replays collapse


def test_sms_webhook_takes_the_real_id_from_history_when_it_is_there():
    history = {
        "totalItems": 1,
        "items": [
            {
                "type": "smsmessage",
                "uri": f"{BASE}/customers/me/sms/9001",
                "created": "2024-01-01T10:00:00.000+0000",
                "direction": "IN",
                "from": "07902000000",
                "to": "01212854400",
                "body": "Hi there",
            }
        ],
    }
    adapter = mock_adapter(answer(200, json.dumps(history)))
    [event] = adapter.parse_webhook("sms", sms_hook(b"to=01212854400&from=07902000000&body=Hi+there&udh="))
    assert event.message.remote_id == "9001"
    assert event.message.created_at == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_sms_webhook_lookup_failure_falls_back_to_the_derived_id():
    adapter = mock_adapter(answer(503, "{}"))
    [event] = adapter.parse_webhook("sms", sms_hook(b"to=01212854400&from=07902000000&body=x&udh="))
    assert event.message.remote_id.startswith("wh-")


def test_malformed_sms_webhook_is_rejected():
    with pytest.raises(Rejected):
        mock_adapter(answer(200, "{}")).parse_webhook("sms", sms_hook(b"hello"))


def test_webhook_from_an_address_outside_allowed_ips_is_refused():
    adapter = mock_adapter(answer(200, "{}"), options={"allowed_ips": ["10.0.0.1"]})
    with pytest.raises(WebhookRejected):
        adapter.verify_webhook(sms_hook(b"to=1&from=2&body=3", addr="1.2.3.4"))
    adapter.verify_webhook(sms_hook(b"to=1&from=2&body=3", addr="10.0.0.1"))
