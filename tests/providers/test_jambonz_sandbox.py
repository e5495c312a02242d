"""The jambonz simulator end to end with the real adapter: paging, resuming, incremental
syncs, faults, signed call-status webhooks, and a million-call account. No database."""

from __future__ import annotations

import itertools
import json
import time
import tracemalloc
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from providers.adapters import AuthFailed, Connection, Rejected, Unavailable, build_adapter
from providers.adapters.jambonz import JambonzAdapter
from providers.adapters.records import (
    CallRequest,
    CallState,
    EventType,
    MessageKind,
    SmsRequest,
    WebhookRequest,
)
from sandbox.core import Sandbox
from sandbox.jambonz import JambonzSim
from tests.providers.test_jambonz_adapter import SWAGGER

SID = "3f1b6c5e-2a4d-4c8e-9f10-1234567890ab"
SECRET = "wh_secret_x"
HOOKS = "http://testserver/hooks/jambonz/tok"


def setup(size: int = 200, seed: int = 1, **options) -> tuple[Sandbox, JambonzAdapter]:
    sb = Sandbox(sims=[JambonzSim])
    sb.add_account(
        "jambonz",
        {"api_key": "k1", "account_sid": SID},
        remote_id=SID,
        seed=seed,
        size=size,
        webhook_base=HOOKS,
        webhook_secret=SECRET,
    )
    adapter = build_adapter(
        "jambonz",
        Connection(
            base_url=sb.base_url("jambonz"),
            credentials={"api_key": "k1", "account_sid": SID},
            remote_account_id=SID,
            webhook_secret=SECRET,
            options=options,
        ),
        transport=sb.transport(),
    )
    assert isinstance(adapter, JambonzAdapter)
    return sb, adapter


def walk(adapter: JambonzAdapter, cursor: str | None = None) -> tuple[list, str]:
    items = []
    for _ in range(10_000):
        page = adapter.list_calls(cursor)
        items += page.items
        cursor = page.cursor
        if page.done:
            return items, cursor
    raise AssertionError("never done")


def capture_hooks(sb: Sandbox) -> list[tuple[str, WebhookRequest]]:
    captured: list[tuple[str, WebhookRequest]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        kind = urlsplit(str(request.url)).path.rstrip("/").rsplit("/", 1)[-1]
        captured.append(
            (
                kind,
                WebhookRequest(
                    method=request.method,
                    path=request.url.path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    query={},
                    body=request.read(),
                    content_type=request.headers.get("content-type", ""),
                ),
            )
        )
        return httpx.Response(200)

    sb.deliver_webhooks(httpx.Client(transport=httpx.MockTransport(handler)))
    return captured


# -- the simulator speaks jambonz ------------------------------------------------------------
def test_sim_refuses_a_missing_or_unknown_bearer_token_with_401_text():
    sb, _ = setup()
    client = httpx.Client(transport=sb.transport(), base_url=sb.base_url("jambonz"))
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic azE6eA=="}):
        response = client.get(f"/Accounts/{SID}", headers=headers)
        assert response.status_code == 401 and response.text == "Unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_sim_answers_unknown_ids_with_an_empty_404():
    sb, _adapter = setup()
    client = httpx.Client(transport=sb.transport(), base_url=sb.base_url("jambonz"))
    response = client.get(
        "/Accounts/00000000-0000-4000-8000-000000000000", headers={"Authorization": "Bearer k1"}
    )
    assert response.status_code == 404 and response.content == b""
    response = client.get(f"/Accounts/{SID}/Calls/nope", headers={"Authorization": "Bearer k1"})
    assert response.status_code == 404 and response.content == b""


def test_sim_validates_recent_calls_query_like_the_api_server():
    sb, _ = setup()
    client = httpx.Client(transport=sb.transport(), base_url=sb.base_url("jambonz"))
    h = {"Authorization": "Bearer k1"}
    assert client.get(f"/Accounts/{SID}/RecentCalls?count=5", headers=h).json() == {
        "msg": 'missing or invalid "page" query arg'
    }
    assert client.get(f"/Accounts/{SID}/RecentCalls?page=1&count=501", headers=h).status_code == 400
    body = client.get(f"/Accounts/{SID}/RecentCalls?page=2&count=5", headers=h).json()
    # page and page_size are echoed from the query string, as strings (the code, not the swagger).
    assert (body["page"], body["page_size"], body["total"], len(body["data"])) == ("2", "5", 50, 5)


def test_sim_can_answer_with_the_swaggers_batch_field_and_the_adapter_copes():
    sb, adapter = setup(size=40)
    sb.find_account("jambonz", api_key="k1").state["size_field"] = "batch"
    adapter.calls_page_size = 3
    items, _ = walk(adapter)
    assert len(items) == 10 == len({c.remote_id for c in items})


def test_account_scoped_key_gets_403_insufficient_privileges_on_service_provider_routes():
    sb, adapter = setup(service_provider_sid="a44985ae-3b03-4d23-a602-4971cfd60a65")
    with pytest.raises(AuthFailed, match="insufficient privileges"):
        adapter.list_subaccounts(None)
    with pytest.raises(AuthFailed, match="insufficient privileges"):
        adapter.create_subaccount("new")
    assert sb.ledger.entries(provider="jambonz")[-1].status == 403


def test_bad_call_input_is_a_msg_400():
    _, adapter = setup()
    with pytest.raises(Rejected, match="invalid call_hook url"):
        adapter.place_call(CallRequest("+15083728299", "+16172375089", {}, answer_url="/relative"))


def test_seeded_history_is_deterministic_and_has_three_to_six_numbers():
    _, a1 = setup(seed=7)
    _, a2 = setup(seed=7)
    assert [c.remote_id for c in a1.list_calls(None).items] == [
        c.remote_id for c in a2.list_calls(None).items
    ]
    numbers = a1.list_numbers(None).items
    assert 3 <= len(numbers) <= 6 and all(n.number.startswith("+") for n in numbers)


def test_every_request_the_adapter_sends_the_sandbox_validates_against_the_swagger():
    sb, adapter = setup(service_provider_sid="")
    captured: list[httpx.Request] = []
    inner = sb.transport()

    class Spy(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.read()
            captured.append(request)
            return inner.handle_request(request)

    adapter.http.client._transport = Spy()
    adapter.check_credentials()
    walk(adapter)
    adapter.list_numbers(None)
    result = adapter.place_call(
        CallRequest("+15083728299", "+16172375089", {}, answer_url="https://a.example/c")
    )
    adapter.get_call(result.remote_id)
    adapter.send_sms(SmsRequest("+15083728299", "+16172375089", "hi"))
    assert len(captured) >= 6
    for request in captured:
        SWAGGER.validate(request)


# -- paging through the sandbox ------------------------------------------------------------------
def test_paging_to_the_end_sees_each_call_exactly_once():
    sb, adapter = setup(size=400)
    adapter.calls_page_size = 7
    items, cursor = walk(adapter)
    ids = [c.remote_id for c in items]
    assert len(ids) == 100 == len(set(ids))
    assert all(a.created_at >= b.created_at for a, b in itertools.pairwise(items))
    assert json.loads(cursor).keys() == {"start"}
    assert sb.ledger.count(provider="jambonz", endpoint="GET /Accounts/{AccountSid}/RecentCalls") == 15


def test_a_crashed_sync_resumes_from_a_mid_history_cursor():
    _, adapter = setup(size=400)
    adapter.calls_page_size = 10
    full, _ = walk(adapter)
    first = adapter.list_calls(None)
    second = adapter.list_calls(first.cursor)
    # "crash" here: a new adapter instance picks up the stored cursor.
    _, fresh = setup(size=400)
    fresh.calls_page_size = 10
    rest, _ = walk(fresh, second.cursor)
    resumed = [c.remote_id for c in first.items + second.items + rest]
    assert resumed == [c.remote_id for c in full]


def test_calls_placed_during_a_backfill_do_not_shift_its_pages():
    _, adapter = setup(size=400)
    adapter.calls_page_size = 10
    first = adapter.list_calls(None)
    time.sleep(1.1)  # the placed call lands after the pinned window end
    adapter.place_call(CallRequest("+15083728299", "+16172375089", {}, answer_url="https://a.example/c"))
    rest, _ = walk(adapter, first.cursor)
    ids = [c.remote_id for c in first.items + rest]
    assert len(ids) == 100 == len(set(ids))


def test_incremental_sync_returns_only_new_calls_plus_the_lookback_window():
    _sb, adapter = setup(size=400)
    adapter.calls_page_size = 25
    history, cursor = walk(adapter)
    lookback_start = max(c.created_at for c in history) - adapter.lookback
    placed = [
        adapter.place_call(
            CallRequest("+15083728299", f"+1617237508{i}", {}, answer_url="https://a.example/c")
        ).remote_id
        for i in range(3)
    ]
    items, next_cursor = walk(adapter, cursor)
    ids = {c.remote_id for c in items}
    assert set(placed) <= ids
    old = [c for c in items if c.remote_id not in placed]
    # Only calls inside the lookback window come back, not the whole history.
    assert len(old) < len(history)
    assert all(c.created_at >= lookback_start - timedelta(seconds=1) for c in old)
    assert json.loads(next_cursor)["start"] >= json.loads(cursor)["start"]


def test_a_million_call_account_pages_its_first_three_pages_with_flat_memory():
    # How fast: `make bench` (case sandbox_pages). Here: nothing of the history is materialised.
    sb, adapter = setup(size=4_000_000)
    account = sb.find_account("jambonz", api_key="k1")
    assert JambonzSim.seeded_count(account) == 1_000_000
    tracemalloc.start()
    cursor = None
    for _ in range(3):
        page = adapter.list_calls(cursor)
        assert len(page.items) == adapter.calls_page_size and not page.done
        cursor = page.cursor
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


# -- faults -------------------------------------------------------------------------------------------
def test_a_timeout_on_call_create_is_unavailable_with_request_sent_and_the_ledger_shows_it_arrived():
    sb, adapter = setup()
    sb.faults.add("timeout", provider="jambonz", endpoint="POST *Calls", count=1)
    with pytest.raises(Unavailable) as info:
        adapter.place_call(CallRequest("+15083728299", "+16172375089", {}, answer_url="https://a.example/c"))
    assert info.value.request_sent is True
    (entry,) = sb.ledger.entries(provider="jambonz", endpoint="POST *Calls")
    assert entry.fault == "timeout" and entry.account == SID
    # The call did happen: it is in the history the next sync reconciles from.
    assert json.loads(entry.body)["to"]["number"] == "+16172375089"
    assert sb.outbox.pending() > 0


@pytest.mark.parametrize(
    ("kind", "kwargs", "error"),
    [
        ("error", {"status": 503}, Unavailable),
        ("rate_limit", {"retry_after": 3}, Exception),
        ("malformed", {}, Unavailable),
        ("drop", {}, Unavailable),
        ("timeout_before", {}, Unavailable),
    ],
)
def test_injected_faults_surface_as_provider_errors(kind, kwargs, error):
    from providers.adapters import RateLimited

    sb, adapter = setup()
    sb.faults.add(kind, provider="jambonz", endpoint="GET *RecentCalls", count=1, **kwargs)
    with pytest.raises(RateLimited if kind == "rate_limit" else error) as info:
        adapter.list_calls(None)
    if kind == "rate_limit":
        assert info.value.retry_after == 3
    assert len(adapter.list_calls(None).items) > 0  # the next request is fine


def test_configured_rate_limit_answers_429_with_ratelimit_headers():
    from providers.adapters import RateLimited

    sb, adapter = setup()
    sb.find_account("jambonz", api_key="k1").state["rate_limit"] = {"max": 2, "window": 300}
    adapter.check_credentials()
    adapter.check_credentials()
    with pytest.raises(RateLimited) as info:
        adapter.check_credentials()
    assert 0 < info.value.retry_after <= 300


# -- calls and webhooks end to end ----------------------------------------------------------------------
def test_place_a_call_end_to_end_and_receive_signed_status_webhooks_ending_in_completed():
    sb, adapter = setup()
    result = adapter.place_call(
        CallRequest(
            "+15083728299",
            "+16172375089",
            {"say": "hello"},
            answer_url=f"{HOOKS}/call/",
            status_url=f"{HOOKS}/call-status/",
        )
    )
    assert result.status == CallState.QUEUED
    hooks = capture_hooks(sb)
    statuses = []
    for kind, request in hooks:
        assert request.headers["jambonz-signature"].startswith("t=")
        adapter.verify_webhook(request)
        (event,) = adapter.parse_webhook(kind, request)
        assert event.type == EventType.CALL_STATUS and event.call.remote_id == result.remote_id
        if kind == "call-status":
            statuses.append(event.call.state)
        else:
            assert event.reply == [{"verb": "say", "text": "hello"}, {"verb": "hangup"}]
    assert statuses == [CallState.QUEUED, CallState.RINGING, CallState.IN_PROGRESS, CallState.COMPLETED]
    assert {k for k, _ in hooks} == {"call-status", "call"}
    final = adapter.get_call(result.remote_id)
    assert final.state == CallState.COMPLETED and final.duration > 0


@pytest.mark.parametrize("to", ["+16172370000", "+46700000000"])
def test_numbers_ending_in_0000_never_connect(to):
    sb, adapter = setup()
    result = adapter.place_call(CallRequest("+15083728299", to, {}, answer_url=f"{HOOKS}/call/"))
    hooks = capture_hooks(sb)
    events = [adapter.parse_webhook(kind, req)[0] for kind, req in hooks]
    assert all(kind == "call-status" for kind, _ in hooks)  # the status hook defaults to the account's
    final = events[-1].call.state
    assert final in (CallState.FAILED, CallState.BUSY, CallState.NO_ANSWER)
    assert adapter.get_call(result.remote_id).state == final


def test_webhooks_signed_with_another_secret_are_refused():
    sb, adapter = setup()
    adapter.connection.webhook_secret = "wh_secret_rotated_away"
    adapter.place_call(CallRequest("+15083728299", "+16172375089", {}, answer_url=f"{HOOKS}/call/"))
    from providers.adapters import WebhookRejected

    for _, request in capture_hooks(sb):
        with pytest.raises(WebhookRejected):
            adapter.verify_webhook(request)


def test_emitted_inbound_call_posts_call_hook_then_statuses_and_shows_up_in_history():
    sb, adapter = setup()
    account = sb.find_account("jambonz", api_key="k1")
    info = sb.emit("jambonz", account, "call", **{"from": "+46701112233"})
    hooks = capture_hooks(sb)
    kinds = [k for k, _ in hooks]
    assert kinds[0] == "call" and kinds.count("call-status") >= 3
    for kind, request in hooks:
        adapter.verify_webhook(request)
    (first,) = adapter.parse_webhook("call", hooks[0][1])
    assert first.call.state == CallState.RINGING and first.call.from_number == "+46701112233"
    assert adapter.list_calls(None).items[0].remote_id == info["call_sid"]


def test_emitted_inbound_sms_is_a_signed_message_inbound():
    sb, adapter = setup()
    account = sb.find_account("jambonz", api_key="k1")
    info = sb.emit("jambonz", account, "sms", **{"from": "+46701112233", "text": "hej"})
    ((kind, request),) = capture_hooks(sb)
    assert kind == "sms"
    adapter.verify_webhook(request)
    (event,) = adapter.parse_webhook(kind, request)
    assert event.type == EventType.MESSAGE_INBOUND and event.event_id == info["message_sid"]
    assert (event.message.body, event.message.from_number, event.message.kind) == (
        "hej",
        "+46701112233",
        MessageKind.SMS,
    )


def test_sms_send_returns_sid_and_a_0000_number_is_an_smpp_480():
    sb, adapter = setup()
    assert adapter.send_sms(SmsRequest("+15083728299", "+16172375089", "hi")).remote_id
    with pytest.raises(Unavailable) as info:
        adapter.send_sms(SmsRequest("+15083728299", "+16172370000", "hi"))
    assert info.value.code == "0x0000000B" and info.value.request_sent is False
    assert sb.outbox.pending() == 0  # jambonz sends no delivery reports for REST messages


# -- subaccounts with a service-provider key ------------------------------------------------------------
def test_service_provider_key_lists_creates_and_renames_accounts():
    sb, adapter = setup()
    account = sb.find_account("jambonz", api_key="k1")
    account.state["scope"] = "service_provider"
    adapter.connection.options = {"service_provider_sid": account.state["service_provider_sid"]}
    subs = adapter.list_subaccounts(None).items
    assert 2 <= len(subs) <= 3 and SID not in {s.remote_id for s in subs}
    created = adapter.create_subaccount("Acme AB")
    assert created.credentials and created.credentials["account_sid"] == created.remote_id
    renamed = adapter.update_subaccount(created.remote_id, name="Acme Sverige AB")
    assert renamed.name == "Acme Sverige AB"
    assert created.remote_id in {s.remote_id for s in adapter.list_subaccounts(None).items}
    # The new account's key works on its own.
    sub = build_adapter(
        "jambonz",
        Connection(base_url=sb.base_url("jambonz"), credentials=created.credentials),
        transport=sb.transport(),
    )
    assert sub.check_credentials().name == "Acme Sverige AB"
    with pytest.raises(Rejected, match="duplicate"):
        adapter.create_subaccount("Acme Sverige AB")
