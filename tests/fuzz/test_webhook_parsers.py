"""Property tests (hypothesis) of every provider's webhook parser, on hostile input: it
either refuses with a ProviderError (stored as a failed event) or returns events that the
database and the dashboard can take — no control characters, numbers that are numbers or
sender ids, ids and text within their columns, a bounded `raw`. It never crashes."""

from __future__ import annotations

import json
import time
from dataclasses import fields, is_dataclass
from enum import Enum
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.safejson import MAX_JSON_DEPTH, json_depth
from providers.adapters import Connection, ProviderError, build_adapter
from providers.adapters.callr.parse import sign as callr_sign
from providers.adapters.inbound import ADDRESS, CONTROL, ID_CAPS, MAX_ADDRESS, MAX_RAW_BYTES, TEXT_CAPS
from providers.adapters.records import WebhookRequest

CREDENTIALS = {
    "46elks": {"username": "u", "password": "p"},
    "sipcentric": {"username": "u", "password": "p"},
    "callr": {"api_key": "k"},
    "jambonz": {"api_key": "k", "account_sid": "3f1e5a2c-0000-4000-8000-000000000001"},
}
SECRET = "fuzz-secret-0123456789"
FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def adapter(provider: str):
    connection = Connection(
        base_url="https://provider.example",
        credentials=CREDENTIALS[provider],
        webhook_secret=SECRET,
        options={"currency": "SEK", "webhook_lookup": False},
    )
    return build_adapter(provider, connection, transport=httpx.MockTransport(lambda r: httpx.Response(500)))


ADAPTERS = {code: adapter(code) for code in CREDENTIALS}


def request(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/hooks/x/tok/kind/",
        headers={"content-type": content_type, **(headers or {})},
        query={},
        body=body,
        remote_addr="127.0.0.1",
        content_type=content_type,
    )


def check_record(record) -> None:
    cls = type(record)
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name == "raw":
            assert isinstance(value, dict)
            dumped = json.dumps(value, default=str)
            assert "\\u0000" not in dumped and len(dumped) <= MAX_RAW_BYTES
            assert json_depth(value) <= MAX_JSON_DEPTH + 2
        elif isinstance(value, str) and not isinstance(value, Enum):
            assert not CONTROL.search(value), (f.name, value)
            if f.name in ("from_number", "to_number"):
                assert len(value) <= MAX_ADDRESS and ADDRESS.fullmatch(value), (f.name, value)
            cap = ID_CAPS.get(cls, {}).get(f.name) or TEXT_CAPS.get(cls, {}).get(f.name)
            if cap:
                assert len(value) <= cap, (f.name, len(value))
        elif isinstance(value, list):
            for item in value:
                if is_dataclass(item):
                    check_record(item)


def parse_checked(provider: str, kind: str, hook: WebhookRequest) -> None:
    try:
        events = ADAPTERS[provider].parse_webhook(kind, hook)
    except ProviderError:
        return
    for event in events:
        assert event.event_id is None or not CONTROL.search(event.event_id)
        for record in (event.message, event.status_update, event.call):
            if record is not None:
                check_record(record)


# -- strategies ------------------------------------------------------------------------------------
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["<b>+4670</b>", "+46701234567", "Acme", "\x00", "+4670\x001234567", "x" * 300, ""]),
)
numberish = st.one_of(st.from_regex(r"\+?[0-9]{6,15}", fullmatch=True), hostile_text)
timestamps = st.one_of(
    st.sampled_from(["2026-01-02T10:00:00.000000", "2026-01-02 10:00:00", "0000-00-00", "9999-99-99"]),
    st.text(max_size=30),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=20,
)


def forms(keys: list[str]):
    return st.dictionaries(
        st.sampled_from(keys), st.one_of(numberish, timestamps, hostile_text), max_size=len(keys)
    ).map(lambda d: urlencode(d).encode())


ELKS_KEYS = ["id", "from", "to", "message", "created", "direction", "status", "delivered", "image",
             "callid", "start", "duration", "cost", "state", "actions", "result", "why"]  # fmt: skip
SIPCENTRIC_KEYS = ["to", "from", "body", "id", "date", "customer", "messageId"]


# -- the properties ----------------------------------------------------------------------------------
valid_time = st.sampled_from(["2026-01-02T10:00:00.000000", "2026-01-02 10:00:00.123"])
elks_inbound = st.fixed_dictionaries(
    {"id": hostile_text, "from": numberish, "to": numberish, "created": valid_time, "message": hostile_text},
    optional={"direction": hostile_text, "image": hostile_text, "status": hostile_text},
).map(lambda d: urlencode(d).encode())
elks_dlr = st.fixed_dictionaries(
    {"id": hostile_text, "status": st.sampled_from(["sent", "delivered", "failed"]) | hostile_text},
    optional={"delivered": valid_time},
).map(lambda d: urlencode(d).encode())


@FUZZ
@given(
    kind=st.sampled_from(["sms", "mms", "dlr", "voice", "hangup"]),
    body=st.one_of(forms(ELKS_KEYS), elks_inbound, elks_dlr),
)
def test_46elks_forms_never_crash_the_parser(kind, body):
    parse_checked("46elks", kind, request(body, "application/x-www-form-urlencoded"))


@FUZZ
@given(kind=st.sampled_from(["sms"]), body=forms(SIPCENTRIC_KEYS))
def test_sipcentric_forms_never_crash_the_parser(kind, body):
    parse_checked("sipcentric", kind, request(body, "application/x-www-form-urlencoded"))


callr_bodies = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["sms.mo", "sms.mt.status_update", "call.inbound_start", "call.outbound_hangup", "billing.credit"]
        ),
        "event_id": hostile_text,
        "event_at": timestamps,
        "data": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "hash": hostile_text,
                    "from": numberish,
                    "to": numberish,
                    "text": hostile_text,
                    "date_creation": timestamps,
                    "date_received": timestamps,
                    "status": hostile_text,
                    "b_customer_debit": st.one_of(hostile_text, st.integers()),
                    "cli": numberish,
                    "number": numberish,
                    "duration": st.one_of(st.integers(), hostile_text),
                },
            ),
        ),
    }
).map(lambda d: json.dumps(d).encode())


@FUZZ
@given(body=st.one_of(callr_bodies, st.binary(max_size=300)))
def test_callr_events_never_crash_the_parser(body):
    parse_checked("callr", "events", request(body, "application/json"))


jambonz_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "call_sid": hostile_text,
            "message_sid": hostile_text,
            "from": numberish,
            "to": numberish,
            "text": hostile_text,
            "call_status": hostile_text,
            "direction": hostile_text,
            "message_status": hostile_text,
            "sip_status": st.one_of(st.integers(), hostile_text),
            "duration": st.one_of(st.integers(), hostile_text),
            "media": json_values,
        },
    ),
).map(lambda d: json.dumps(d).encode())


@FUZZ
@given(
    kind=st.sampled_from(["call-status", "call", "sms"]),
    body=st.one_of(jambonz_bodies, st.binary(max_size=300)),
)
def test_jambonz_payloads_never_crash_the_parser(kind, body):
    parse_checked(
        "jambonz",
        kind,
        request(body, "application/json", {"jambonz-signature": f"t={int(time.time())},v1=x"}),
    )


@FUZZ
@given(depth=st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=5000))
def test_json_nested_past_the_limit_is_refused_by_every_json_provider(depth):
    body = b'{"type": "sms.mo", "data": ' + b"[" * depth + b"]" * depth + b"}"
    for provider, kind in (("callr", "events"), ("jambonz", "sms")):
        try:
            ADAPTERS[provider].parse_webhook(kind, request(body, "application/json"))
        except ProviderError:
            continue
        raise AssertionError(f"{provider} accepted JSON {depth} deep")


@FUZZ
@given(body=st.binary(max_size=200))
def test_callr_signature_check_never_crashes(body):
    hook = request(body, "application/json", {"x-callr-hmacsignature": callr_sign(SECRET, body)})
    ADAPTERS["callr"].verify_webhook(hook)  # a correct signature over any bytes passes
