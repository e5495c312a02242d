"""The Sipcentric adapter end to end against the sandbox simulator: paging, resuming,
incremental syncs, sends, calls, faults and inbound webhooks. No database."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from providers.adapters import build_adapter
from providers.adapters.base import Connection
from providers.adapters.errors import AuthFailed, RateLimited, Rejected, Unavailable, WebhookRejected
from providers.adapters.records import (
    CallRequest,
    CallState,
    Direction,
    EventType,
    MessageStatus,
    SmsRequest,
    WebhookRequest,
)
from providers.adapters.sipcentric.parse import LOOKBACK
from sandbox.core import Sandbox, SimAccount
from sandbox.sipcentric import SipcentricSim

CREDS = {"username": "u1", "password": "p1"}
HOOKS = "http://testserver/hooks/sipcentric/tok"


def make(size: int = 200, seed: int = 1, **options):
    sb = Sandbox(sims=[SipcentricSim])
    account = sb.add_account("sipcentric", dict(CREDS), seed=seed, size=size, webhook_base=HOOKS)
    adapter = adapter_for(sb, options)
    return sb, account, adapter


def adapter_for(sb: Sandbox, options: dict | None = None, creds: dict | None = None):
    connection = Connection(
        base_url=sb.base_url("sipcentric"), credentials=creds or dict(CREDS), options=options or {}
    )
    return build_adapter("sipcentric", connection, transport=sb.transport())


def walk(list_page, cursor=None, limit: int = 10_000):
    """Every page until done: (items, final cursor, pages)."""
    items, pages = [], 0
    while True:
        page = list_page(cursor)
        items += page.items
        cursor, pages = page.cursor, pages + 1
        if page.done or pages >= limit:
            return items, cursor, pages


def sms_from(account: SimAccount) -> str:
    return "+44" + account.state["numbers"][0]["number"][1:]


# -- account -----------------------------------------------------------------------------------
def test_check_credentials_and_balance_through_the_sandbox():
    _sb, account, adapter = make()
    info = adapter.check_credentials()
    assert info.remote_id == account.remote_id and info.currency == "GBP"
    balance = adapter.get_balance()
    assert balance.currency == "GBP" and balance.amount > 0


def test_wrong_password_is_auth_failed_with_a_json_401():
    sb, _, _ = make()
    adapter = adapter_for(sb, creds={"username": "u1", "password": "nope"})
    with pytest.raises(AuthFailed):
        adapter.check_credentials()
    [entry] = sb.ledger.entries(provider="sipcentric")
    assert entry.status == 401


def test_seeded_numbers_are_uk_and_sms_ones_point_at_our_webhook():
    _, _account, adapter = make()
    page = adapter.list_numbers(None)
    assert page.done and 3 <= len(page.items) <= 6
    assert all(n.number.startswith("+44") and n.country == "GB" for n in page.items)
    sms = [n for n in page.items if "sms" in n.capabilities]
    assert sms and all(n.sms_url == f"{HOOKS}/sms/" for n in sms)


def test_every_object_has_type_and_uri_and_json_suffix_works():
    sb, _, _ = make(size=5)
    client = httpx.Client(transport=sb.transport(), auth=("u1", "p1"))
    base = sb.base_url("sipcentric")
    for path in ("customers/me", "customers/me/creditstatus", "customers/me/sms/100000"):
        data = client.get(f"{base}/{path}.json").json()
        assert data["type"] and data["uri"], path
    listing = client.get(f"{base}/customers/me/phonenumbers", params={"pageSize": 2}).json()
    assert set(listing) >= {"totalItems", "pageSize", "page", "items", "nextPage"}
    assert all(i["type"] == "did" and i["uri"] for i in listing["items"])
    response = client.get(f"{base}/customers/me/sms")
    assert response.headers["x-ratelimit-limit"] == "1200"
    assert int(response.headers["x-ratelimit-remaining"]) < 1200


def test_seeded_history_is_deterministic_per_seed():
    _, _, first = make(seed=7)
    _, _, second = make(seed=7)
    _, _, other = make(seed=8)
    a, b, c = (x.list_messages(None).items for x in (first, second, other))
    assert [(m.body, m.to_number) for m in a] == [(m.body, m.to_number) for m in b]
    assert [(m.body, m.to_number) for m in a] != [(m.body, m.to_number) for m in c]


# -- paging ----------------------------------------------------------------------------------
def test_backfill_sees_every_message_once_newest_first():
    _, _, adapter = make(size=450)
    items, cursor, pages = walk(adapter.list_messages)
    assert pages == 3
    assert len(items) == 450 and len({m.remote_id for m in items}) == 450
    times = [m.created_at for m in items]
    assert times == sorted(times, reverse=True)
    assert json.loads(cursor)["mode"] == "tail"
    statuses = {m.status for m in items}
    assert MessageStatus.RECEIVED in statuses and MessageStatus.DELIVERED in statuses


def test_a_crashed_sync_resumes_after_its_last_page():
    _, _, adapter = make(size=450, page_size=100)
    first = adapter.list_messages(None)
    second = adapter.list_messages(first.cursor)
    # A new process (new adapter) picks up from the stored cursor.
    _, _, fresh = make(size=450, page_size=100)
    resumed = fresh.list_messages(first.cursor)
    assert [m.remote_id for m in resumed.items] == [m.remote_id for m in second.items]
    rest, _, _ = walk(fresh.list_messages, resumed.cursor)
    assert len(first.items) + len(resumed.items) + len(rest) == 450


def test_messages_arriving_mid_backfill_do_not_shift_pages():
    sb, account, adapter = make(size=300, page_size=50)
    seen, cursor = [], None
    for _ in range(3):
        page = adapter.list_messages(cursor)
        seen += [m.remote_id for m in page.items]
        cursor = page.cursor
        # New messages land at the head of the list between pages.
        adapter.send_sms(SmsRequest(sms_from(account), "+447700900100", "during the sync"))
        sb.emit("sipcentric", account, "sms", body="inbound during the sync")
    rest, cursor, _ = walk(adapter.list_messages, cursor)
    seen += [m.remote_id for m in rest]
    seeded = [i for i in seen if not i.startswith("5")]
    assert len(seeded) == 300 and len(set(seeded)) == 300
    # The next sync picks up the six that arrived during the backfill.
    new, _, _ = walk(adapter.list_messages, cursor)
    assert sum(m.body.endswith("during the sync") for m in new) == 6


def test_incremental_sync_returns_only_new_items_plus_the_lookback():
    _, account, adapter = make(size=200)
    items, cursor, _ = walk(adapter.list_messages)
    newest = max(m.created_at for m in items)
    result = adapter.send_sms(SmsRequest(sms_from(account), "+447700900123", "fresh"))
    new, _cursor2, pages = walk(adapter.list_messages, cursor)
    assert pages == 1
    assert result.remote_id in {m.remote_id for m in new}
    assert all(m.created_at >= newest - LOOKBACK for m in new)
    old_in_window = [m for m in items if m.created_at >= newest - LOOKBACK]
    assert len(new) == 1 + len(old_in_window)


def test_sent_message_status_progresses_on_later_reads():
    _, account, adapter = make(size=10)
    result = adapter.send_sms(SmsRequest(sms_from(account), "+447700900123", "hello"))
    assert result.status is MessageStatus.SENT and result.raw_status == "SENT/0"
    statuses = [adapter.get_message(result.remote_id).raw_status for _ in range(3)]
    assert statuses == ["SENT/0", "SENT/8", "SENT/1"]
    assert adapter.get_message(result.remote_id).status is MessageStatus.DELIVERED


def test_sent_message_to_a_rejecting_carrier_ends_failed():
    _, account, adapter = make(size=10)
    result = adapter.send_sms(SmsRequest(sms_from(account), "+447700900999", "hello"))
    adapter.get_message(result.remote_id)
    message = adapter.get_message(result.remote_id)
    assert message.status is MessageStatus.FAILED and message.error == "Rejected by carrier."


def test_sent_message_appears_in_the_next_history_page():
    sb, account, adapter = make(size=200)
    _, cursor, _ = walk(adapter.list_messages)
    result = adapter.send_sms(SmsRequest(sms_from(account), "+447700900123", "Hello from Switchboard"))
    [entry] = sb.ledger.entries(provider="sipcentric", endpoint="POST /customers/*/sms")
    assert entry.status == 201
    page = adapter.list_messages(cursor)
    [sent] = [m for m in page.items if m.remote_id == result.remote_id]
    assert sent.direction is Direction.OUTBOUND
    assert sent.to_number == "+447700900123" and sent.from_number == sms_from(account)
    assert sent.body == "Hello from Switchboard"


def test_calls_backfill_and_incremental_with_created_filters():
    sb, _, adapter = make(size=1000, page_size=100)
    calls, cursor, pages = walk(adapter.list_calls)
    assert len(calls) == 250 and len({c.remote_id for c in calls}) == 250 and pages == 3
    assert {c.state for c in calls} >= {CallState.COMPLETED}
    later = [e.query for e in sb.ledger.entries(endpoint="GET /customers/*/calls")][1:]
    assert all("createdBefore" in q for q in later)  # pinned after the first page
    newest = max(c.created_at for c in calls)
    again, _, _ = walk(adapter.list_calls, cursor)
    assert again and all(c.created_at >= newest - LOOKBACK - timedelta(hours=1) for c in again)
    assert "createdAfter" in sb.ledger.entries(endpoint="GET /customers/*/calls")[-1].query


def test_place_call_from_an_extension_then_it_appears_in_call_history():
    sb, _, adapter = make(size=100)
    _, cursor, _ = walk(adapter.list_calls)
    result = adapter.place_call(CallRequest("201", "+447700900111", {"connect": "+447700900111"}))
    assert result.remote_id == "" and result.status is CallState.QUEUED
    [post] = sb.ledger.entries(endpoint="POST /customers/*/calls")
    assert post.status == 200 and json.loads(post.body)["to"] == "07700900111"
    new, _, _ = walk(adapter.list_calls, cursor)
    placed = [c for c in new if c.to_number == "+447700900111"]
    assert placed and placed[0].direction is Direction.OUTBOUND


def test_place_call_from_an_unknown_extension_is_rejected():
    _, _, adapter = make(size=10)
    with pytest.raises(Rejected, match="extension 999"):
        adapter.place_call(CallRequest("999", "+447700900111", {}))


def test_recordings_link_to_calls_and_download_as_wav():
    _, _, adapter = make(size=400)
    recordings, _, _ = walk(adapter.list_recordings)
    calls, _, _ = walk(adapter.list_calls)
    assert recordings and {r.call_remote_id for r in recordings} <= {c.remote_id for c in calls}
    audio = b"".join(adapter.download_recording(recordings[0]))
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE" and len(audio) == recordings[0].size
    assert b"".join(adapter.download_recording(recordings[0])) == audio  # deterministic


def test_million_message_account_pages_without_materialising():
    _sb, account, adapter = make(size=1_000_000)
    cursor, seen = None, []
    for _ in range(3):
        page = adapter.list_messages(cursor)
        seen += page.items
        cursor = page.cursor
    assert len(seen) == 600 and not page.done
    assert json.loads(cursor)["rem"] == 1_000_000 - 600
    assert account.state["sms"] == []  # nothing stored for the seeded history
    assert len(walk(adapter.list_calls, limit=2)[0]) == 400


# -- validation and faults -------------------------------------------------------------------------
def test_sending_from_a_number_not_on_the_account_is_rejected():
    _, _, adapter = make(size=10)
    with pytest.raises(Rejected, match="not a number or approved caller ID"):
        adapter.send_sms(SmsRequest("+447700900001", "+447700900123", "hi"))


def test_approved_sender_name_may_send():
    _, _, adapter = make(size=10)
    assert adapter.send_sms(SmsRequest("Switchboard", "+447700900123", "hi")).remote_id


def test_empty_body_and_bad_to_are_validation_errors():
    _, account, adapter = make(size=10)
    with pytest.raises(Rejected) as exc:
        adapter.send_sms(SmsRequest(sms_from(account), "12", " "))
    assert "to: must be a valid phone number" in exc.value.message
    assert "body: may not be empty" in exc.value.message


def test_timeout_after_a_send_is_unavailable_with_request_sent_and_the_ledger_has_it():
    sb, account, adapter = make(size=10)
    sb.faults.add("timeout", provider="sipcentric", endpoint="POST *", count=1)
    with pytest.raises(Unavailable) as exc:
        adapter.send_sms(SmsRequest(sms_from(account), "+447700900123", "hi"))
    assert exc.value.request_sent is True
    [entry] = sb.ledger.entries(provider="sipcentric", endpoint="POST /customers/*/sms")
    assert entry.fault == "timeout"
    assert len(account.state["sms"]) == 1  # it took effect: reconcile, don't resend


def test_injected_503_429_and_malformed_map_to_error_classes():
    sb, _, adapter = make(size=10)
    sb.faults.add("error", provider="sipcentric", endpoint="GET /customers/*/sms", count=1, status=503)
    with pytest.raises(Unavailable):
        adapter.list_messages(None)
    sb.faults.add(
        "rate_limit", provider="sipcentric", endpoint="GET /customers/*/sms", count=1, retry_after=7
    )
    with pytest.raises(RateLimited) as exc:
        adapter.list_messages(None)
    assert exc.value.retry_after == 7
    sb.faults.add("malformed", provider="sipcentric", endpoint="GET /customers/*/sms", count=1)
    with pytest.raises(Unavailable, match="malformed"):
        adapter.list_messages(None)
    assert adapter.list_messages(None).items  # faults used up


def test_hourly_rate_limit_when_configured_answers_429_with_reset():
    _, account, adapter = make(size=10)
    account.state["rate_limit_per_hour"] = 3
    for _ in range(3):
        adapter.get_balance()
    with pytest.raises(RateLimited) as exc:
        adapter.get_balance()
    assert 0 < exc.value.retry_after <= 3600


def test_reseller_lists_its_customers_as_subaccounts():
    sb, parent, adapter = make(size=10)
    sb.add_account("sipcentric", {"username": "child", "password": "c"}, remote_id="26", parent=parent)
    page = adapter.list_subaccounts(None)
    assert [s.remote_id for s in page.items] == ["26"] and page.done
    child = build_adapter(
        "sipcentric",
        Connection(base_url=sb.base_url("sipcentric"), credentials=dict(CREDS), remote_account_id="26"),
        transport=sb.transport(),
    )
    assert child.check_credentials().remote_id == "26"


# -- inbound webhooks ---------------------------------------------------------------------------
def test_emitted_inbound_sms_posts_a_form_that_parses_to_an_inbound_event():
    sb, account, adapter = make(size=50)
    emitted = sb.emit("sipcentric", account, "sms", body="Is the shop open?", **{"from": "07700900555"})
    captured: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200)

    sb.deliver_webhooks(httpx.Client(transport=httpx.MockTransport(capture)))
    [hook] = captured
    assert str(hook.url) == f"{HOOKS}/sms/"
    assert hook.headers["content-type"] == "application/x-www-form-urlencoded"
    request = WebhookRequest(
        method="POST",
        path=hook.url.path,
        headers=dict(hook.headers),
        query={},
        body=hook.content,
        remote_addr="127.0.0.1",
        content_type=hook.headers["content-type"],
    )
    assert set(request.form()) == {"to", "from", "body", "udh"}
    adapter.verify_webhook(request)
    [event] = adapter.parse_webhook("sms", request)
    assert event.type is EventType.MESSAGE_INBOUND
    message = event.message
    assert message.body == "Is the shop open?" and message.from_number == "+447700900555"
    assert message.status is MessageStatus.RECEIVED
    # Reconciled with history: the webhook carries the id the next sync will import.
    assert message.remote_id == emitted["id"]
    history = adapter.list_messages(None).items
    assert message.remote_id in {m.remote_id for m in history}


def test_webhook_outside_allowed_ips_is_refused():
    sb, _account, _ = make(size=5)
    adapter = adapter_for(sb, {"allowed_ips": ["185.0.0.1"]})
    request = WebhookRequest(
        "POST", "/hooks/", {}, {}, b"to=01214960000&from=07700900555&body=x&udh=", "10.9.9.9"
    )
    with pytest.raises(WebhookRejected):
        adapter.verify_webhook(request)
