"""Callr adapter end to end against the in-process sandbox simulator. No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from providers.adapters import Connection, build_adapter
from providers.adapters.callr import CallrAdapter
from providers.adapters.errors import AuthFailed, NotSupported, RateLimited, Rejected, Unavailable
from providers.adapters.records import (
    CallRequest,
    CallState,
    Direction,
    EventType,
    MessageStatus,
    SmsRequest,
    WebhookRequest,
)
from sandbox.callr import SPAN, CallrSim, index_range
from sandbox.core import Sandbox, history_time

HOOKS = "http://testserver/hooks/callr/tok"


def setup(size: int = 200, seed: int = 1, **options) -> tuple[Sandbox, CallrAdapter]:
    sb = Sandbox()
    sb.add_account(
        "callr", {"api_key": "k1"}, seed=seed, size=size, webhook_base=HOOKS, webhook_secret="s3cret"
    )
    return sb, connect(sb, **options)


def connect(sb: Sandbox, credentials: dict[str, str] | None = None, **options) -> CallrAdapter:
    conn = Connection(
        base_url=sb.base_url("callr"),
        credentials=credentials or {"api_key": "k1"},
        webhook_secret="s3cret",
        options=options,
    )
    adapter = build_adapter("callr", conn, transport=sb.transport())
    assert isinstance(adapter, CallrAdapter)
    return adapter


def walk(adapter: CallrAdapter, resource: str, cursor: str | None = None, limit: int = 500):
    pages = []
    for _ in range(limit):
        page = adapter.list_page(resource, cursor)
        pages.append(page)
        cursor = page.cursor
        if page.done:
            return pages
    raise AssertionError("history never finished")


def capture(sb: Sandbox) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200)

    sb.deliver_webhooks(httpx.Client(transport=httpx.MockTransport(handler)))
    return seen


def as_webhook(request: httpx.Request) -> WebhookRequest:
    return WebhookRequest(
        method=request.method,
        path=request.url.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query={},
        body=request.content,
        content_type=request.headers.get("content-type", ""),
    )


def rpc(
    sb: Sandbox, body: bytes, auth: str = "Api-Key k1", path: str = "/callr/json-rpc/v1.1/"
) -> httpx.Response:
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox") as client:
        return client.post(path, content=body, headers={"Authorization": auth})


# -- history ---------------------------------------------------------------------------------------
def test_paging_to_the_end_returns_every_sms_exactly_once():
    _sb, adapter = setup(size=300)
    pages = walk(adapter, "messages")
    ids = [m.remote_id for p in pages for m in p.items]
    assert len(ids) == 300 and len(set(ids)) == 300
    assert all(not p.done for p in pages[:-1]) and pages[-1].done
    directions = {m.direction for p in pages for m in p.items}
    assert directions == {Direction.INBOUND, Direction.OUTBOUND}
    assert all(m.created_at.tzinfo is not None for p in pages for m in p.items)


def test_paging_calls_returns_every_cdr_exactly_once():
    _sb, adapter = setup(size=300)
    calls = [c for p in walk(adapter, "calls") for c in p.items]
    assert len(calls) == 75 and len({c.remote_id for c in calls}) == 75
    assert {c.currency for c in calls if c.cost} == {"EUR"}


def test_a_crashed_sync_resumes_after_the_last_stored_page():
    sb, adapter = setup(size=300)
    full = walk(adapter, "messages")
    assert len(full) > 4
    resumed = walk(connect(sb), "messages", cursor=full[2].cursor)
    before = {m.remote_id for p in full[:3] for m in p.items}
    after = {m.remote_id for p in resumed for m in p.items}
    assert before.isdisjoint(after)
    assert before | after == {m.remote_id for p in full for m in p.items}


def test_an_incremental_sync_returns_new_items_plus_the_lookback_only():
    sb, adapter = setup(size=300)
    started = datetime.now(UTC)
    done = walk(adapter, "messages")[-1]
    sent = adapter.send_sms(SmsRequest("SMS", "+33612345678", "fresh"))
    pages = walk(adapter, "messages", cursor=done.cursor)
    items = [m for p in pages for m in p.items]
    assert sent.remote_id in {m.remote_id for m in items}
    oldest_allowed = started - timedelta(hours=48, seconds=5)
    assert items and all(m.created_at >= oldest_allowed for m in items)
    account = sb.find_account("callr", api_key="k1")
    in_lookback = sum(
        1
        for i in range(300)
        if history_time(account, i, SPAN, 300) >= started - timedelta(hours=47, minutes=59)
    )
    assert len(items) >= in_lookback + 1
    assert len(items) < 300 // 4  # nowhere near the full history


def test_the_backfill_stops_at_the_configured_horizon():
    _sb, adapter = setup(size=300, callr_horizon_days=30)
    items = [m for p in walk(adapter, "messages") for m in p.items]
    cutoff = datetime.now(UTC) - timedelta(days=30, hours=1)
    assert items and all(m.created_at >= cutoff for m in items)
    assert len(items) < 300


def test_a_million_message_account_pages_without_materialising_its_history():
    sb, adapter = setup(size=1_000_000)
    account = sb.find_account("callr", api_key="k1")
    cursor, seen = None, 0
    for _ in range(3):
        page = adapter.list_messages(cursor)
        assert not page.done and 0 < len(page.items) <= CallrAdapter.PAGE_CAP
        seen += len(page.items)
        cursor = page.cursor
    assert seen > 100
    assert account.state["sms"] == {}  # nothing materialised


def test_index_ranges_match_a_brute_force_scan():
    sb = Sandbox()
    account = sb.add_account("callr", {"api_key": "x"}, seed=3, size=997)
    for days in (0.1, 3, 40, 179.9, 200):
        lo = account.anchor - timedelta(days=days + 1.3)
        hi = account.anchor - timedelta(days=days)
        expected = [i for i in range(997) if lo <= history_time(account, i, SPAN, 997) < hi]
        assert list(index_range(account, 997, lo, hi)) == expected


def test_the_seeded_history_is_deterministic_per_seed():
    def ids(seed: int) -> list[str]:
        return [m.remote_id for p in walk(setup(seed=seed)[1], "messages") for m in p.items]

    first, again, other = ids(5), ids(5), ids(5 + 1)
    assert first and first == again and first != other
    assert all(len(h) == 8 and h == h.upper() for h in first)


# -- sending and webhooks ----------------------------------------------------------------------------
def test_send_sms_end_to_end_delivers_a_signed_status_webhook():
    sb, adapter = setup()
    result = adapter.send_sms(SmsRequest("Switchboard", "+33612345678", "Hello"))
    assert len(result.remote_id) == 8 and result.status == MessageStatus.QUEUED
    (request,) = capture(sb)
    assert str(request.url) == HOOKS + "/events/"
    assert request.headers["x-callr-eventid"]
    webhook = as_webhook(request)
    adapter.verify_webhook(webhook)
    (event,) = adapter.parse_webhook("events", webhook)
    assert event.type == EventType.MESSAGE_STATUS and event.event_id == request.headers["x-callr-eventid"]
    assert event.status_update.remote_id == result.remote_id
    assert event.status_update.status == MessageStatus.SENT
    assert json.loads(request.content)["hook_hash"] is not None


def test_a_recipient_ending_in_0000_fails_deterministically():
    sb, adapter = setup()
    result = adapter.send_sms(SmsRequest("SMS", "+33612340000", "Hello"))
    (request,) = capture(sb)
    (event,) = adapter.parse_webhook("events", as_webhook(request))
    assert event.status_update.status == MessageStatus.FAILED and event.status_update.error
    sb.find_account("callr", api_key="k1").state["sms"][result.remote_id]["_final_at"] = 0
    assert adapter.get_message(result.remote_id).status == MessageStatus.FAILED


def test_a_per_sms_status_url_receives_the_report_as_a_dynamic_hook():
    sb, adapter = setup()
    adapter.send_sms(SmsRequest("SMS", "+33612345678", "Hi", status_url="http://testserver/dlr/42"))
    (request,) = capture(sb)
    assert str(request.url) == "http://testserver/dlr/42"
    assert json.loads(request.content)["hook_hash"] is None
    adapter.verify_webhook(as_webhook(request))


def test_a_tampered_sandbox_webhook_is_refused():
    sb, adapter = setup()
    adapter.send_sms(SmsRequest("SMS", "+33612345678", "Hi"))
    (request,) = capture(sb)
    webhook = as_webhook(request)
    webhook.body = json.dumps(json.loads(webhook.body), indent=2).encode()
    with pytest.raises(Exception, match="signature"):
        adapter.verify_webhook(webhook)


def test_the_sent_sms_appears_in_get_and_in_history():
    _sb, adapter = setup()
    result = adapter.send_sms(SmsRequest("SMS", "+33612345678", "Hi there"))
    msg = adapter.get_message(result.remote_id)
    assert msg.body == "Hi there" and msg.direction == Direction.OUTBOUND and msg.cost is not None
    assert result.remote_id in {m.remote_id for m in adapter.list_messages(None).items}


def test_emitting_an_inbound_sms_posts_sms_mo():
    sb, adapter = setup()
    account = sb.find_account("callr", api_key="k1")
    info = sb.emit("callr", account, "sms", **{"from": "+33611111111", "text": "Yes please"})
    (request,) = capture(sb)
    webhook = as_webhook(request)
    adapter.verify_webhook(webhook)
    (event,) = adapter.parse_webhook("events", webhook)
    assert event.type == EventType.MESSAGE_INBOUND and event.event_id == info["event_id"]
    assert event.message.remote_id == info["hash"] and event.message.body == "Yes please"
    assert event.message.direction == Direction.INBOUND


def test_emitting_a_call_posts_start_then_hangup():
    sb, adapter = setup()
    account = sb.find_account("callr", api_key="k1")
    info = sb.emit("callr", account, "call", duration=30)
    requests = capture(sb)
    events = [e for r in requests for e in adapter.parse_webhook("events", as_webhook(r))]
    assert [e.type for e in events] == [EventType.CALL_STATUS, EventType.CALL_STATUS]
    assert [e.call.state for e in events] == [CallState.RINGING, CallState.COMPLETED]
    assert {e.call.remote_id for e in events} == {str(info["callid"])}
    assert events[1].call.duration == 32 and events[1].call.cost is not None


def test_place_call_starts_a_realtime_call_and_reports_it():
    sb, adapter = setup(realtime_app="ABCD1234")
    result = adapter.place_call(CallRequest("+33123456789", "+33612345678", {"connect": "+33600000000"}))
    events = [e for r in capture(sb) for e in adapter.parse_webhook("events", as_webhook(r))]
    assert [e.call.remote_id for e in events] == [result.remote_id] * 2
    assert events[-1].call.state == CallState.COMPLETED and events[-1].call.direction == Direction.OUTBOUND


# -- faults and errors ---------------------------------------------------------------------------------
def test_a_timeout_on_send_is_unavailable_sent_and_the_ledger_shows_one_send():
    sb, adapter = setup()
    sb.faults.add("timeout", provider="callr", endpoint="sms.send", count=1)
    with pytest.raises(Unavailable) as info:
        adapter.send_sms(SmsRequest("SMS", "+33612345678", "Hello"))
    assert info.value.request_sent is True
    assert sb.ledger.count(provider="callr", endpoint="sms.send") == 1
    assert len(sb.find_account("callr", api_key="k1").state["sms"]) == 1  # it did take effect


def test_faults_are_matched_per_json_rpc_method():
    sb, adapter = setup()
    sb.faults.add("error", provider="callr", endpoint="billing.get_prepaid_credit", status=503, count=1)
    adapter.check_credentials()  # a different method is untouched
    with pytest.raises(Unavailable) as info:
        adapter.get_balance()
    assert info.value.status == 503
    assert adapter.get_balance().amount > 0


def test_an_injected_429_is_rate_limited_with_retry_after():
    sb, adapter = setup()
    sb.faults.add("rate_limit", provider="callr", endpoint="sms.get_list", retry_after=3, count=1)
    with pytest.raises(RateLimited) as info:
        adapter.list_messages(None)
    assert info.value.retry_after == 3


def test_a_malformed_answer_is_unavailable():
    sb, adapter = setup()
    sb.faults.add("malformed", provider="callr", endpoint="sms.get_list", count=1)
    with pytest.raises(Unavailable, match="malformed"):
        adapter.list_messages(None)


def test_a_dropped_connection_is_unavailable():
    sb, adapter = setup()
    sb.faults.add("drop", provider="callr", endpoint="sms.send", count=1)
    with pytest.raises(Unavailable) as info:
        adapter.send_sms(SmsRequest("SMS", "+33612345678", "x"))
    assert info.value.request_sent is True


def test_bad_credentials_are_auth_failures():
    sb, _ = setup()
    with pytest.raises(AuthFailed):
        connect(sb, {"api_key": "nope"}).check_credentials()
    with pytest.raises(AuthFailed):
        connect(sb, {"login": "who", "password": "bad"}).get_balance()


def test_login_and_password_accounts_authenticate_with_basic():
    sb = Sandbox()
    sb.add_account("callr", {"login": "jdoe", "password": "pw"}, size=10)
    info = connect(sb, {"login": "jdoe", "password": "pw"}).check_credentials()
    assert info.remote_id == "jdoe"


def test_a_bad_recipient_is_rejected_with_the_providers_message():
    _sb, adapter = setup()
    with pytest.raises(Rejected, match="Invalid property value") as info:
        adapter.send_sms(SmsRequest("SMS", "0612345678", "x"))
    assert info.value.code == "151"


def test_an_invalid_sender_is_rejected():
    _sb, adapter = setup()
    with pytest.raises(Rejected, match="from"):
        adapter.send_sms(SmsRequest("Way too long sender", "+33612345678", "x"))


# -- raw JSON-RPC behaviour of the simulator ----------------------------------------------------------
def test_rpc_errors_come_back_as_http_200_with_an_error_object():
    sb, _ = setup()
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "sms.send", "params": ["SMS"]}).encode()
    response = rpc(sb, body)
    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32602, "message": "Invalid params", "data": "sms.send takes 3..4 params"},
    }


def test_named_params_are_refused():
    sb, _ = setup()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sms.get", "params": {"hash": "X"}}).encode()
    assert rpc(sb, body).json()["error"]["code"] == -32602


def test_wrongly_typed_params_are_invalid_params():
    sb, _ = setup()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sms.get_list", "params": ["OUT", 1, 2]}).encode()
    assert rpc(sb, body).json()["error"]["code"] == -32602


def test_unparseable_json_is_a_parse_error_and_unknown_methods_are_not_found():
    sb, adapter = setup()
    assert rpc(sb, b"{oops").json()["error"]["code"] == -32700
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "nope.nope", "params": []}).encode()
    assert rpc(sb, body).json()["error"]["code"] == -32601
    with pytest.raises(NotSupported):
        adapter._rpc("nope.nope")


def test_bad_auth_is_the_json_rpc_authentication_error():
    sb, _ = setup()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "system.get_timestamp", "params": []}).encode()
    response = rpc(sb, body, auth="Api-Key wrong")
    assert response.status_code == 200 and response.json()["error"]["code"] == 401


def test_the_endpoint_tolerates_a_missing_trailing_slash_and_names_the_method_in_the_ledger():
    sb, _ = setup()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "system.get_timestamp", "params": []}).encode()
    assert isinstance(rpc(sb, body, path="/callr/json-rpc/v1.1").json()["result"], int)
    assert sb.ledger.entries(provider="callr")[-1].endpoint == "system.get_timestamp"


# -- numbers, sub-accounts, balance ---------------------------------------------------------------------
def test_numbers_are_the_accounts_dids():
    _sb, adapter = setup()
    page = adapter.list_numbers(None)
    assert page.done and len(page.items) >= 3
    assert all(n.number.startswith("+") and len(n.remote_id) == 8 for n in page.items)


def test_sub_accounts_can_be_listed_created_and_renamed():
    _sb, adapter = setup(contact_email="ops@example.com")
    listed = [s for p in walk(adapter, "subaccounts") for s in p.items]
    assert 2 <= len(listed) <= 3
    created = adapter.create_subaccount("Acme Ltd")
    assert created.name == "Acme Ltd" and created.active
    assert created.credentials and created.credentials["login"] and created.credentials["password"]
    renamed = adapter.update_subaccount(created.remote_id, name="Acme Group")
    assert renamed.remote_id == created.remote_id and renamed.name == "Acme Group"
    assert renamed.credentials is None  # the password is only shown once
    listed = [s for p in walk(adapter, "subaccounts") for s in p.items]
    assert "Acme Group" in {s.name for s in listed}


def test_sub_account_listing_pages_with_offset():
    _sb, adapter = setup(contact_email="ops@example.com")
    for n in range(4):
        adapter.create_subaccount(f"Client X{n}")
    adapter.SUBACCOUNT_PAGE = 2
    pages = walk(adapter, "subaccounts")
    assert len(pages) >= 3 and all(len(p.items) <= 2 for p in pages)
    ids = [s.remote_id for p in pages for s in p.items]
    assert len(ids) == len(set(ids)) >= 6


def test_updating_an_unknown_sub_account_is_rejected():
    _sb, adapter = setup()
    with pytest.raises(Rejected):
        adapter.update_subaccount("ZZZZZZZZ", name="x")


def test_balance_drops_after_a_send():
    _sb, adapter = setup()
    before = adapter.get_balance().amount
    adapter.send_sms(SmsRequest("SMS", "+33612345678", "Hi"))
    after = adapter.get_balance().amount
    assert after < before and abs(before - after - Decimal("0.045")) <= Decimal("0.01")  # 4.50 cents


def test_the_simulator_is_registered_for_callr():
    assert isinstance(Sandbox().sims["callr"], CallrSim)
    assert Sandbox().base_url("callr") == "http://sandbox/callr/json-rpc/v1.1"
