"""The 46elks adapter end to end against the in-process sandbox simulator. No database."""

from __future__ import annotations

import io
import json
import wave
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from providers.adapters import build_adapter
from providers.adapters.base import Connection
from providers.adapters.errors import AuthFailed, RateLimited, Rejected, Unavailable
from providers.adapters.normalize import parse_time
from providers.adapters.records import (
    CallRequest,
    CallState,
    Direction,
    EventType,
    MessageKind,
    MessageStatus,
    NumberConfig,
    SmsRequest,
    WebhookRequest,
)
from sandbox.core import Sandbox

CREDS = {"username": "u1", "password": "p1"}
HOOKS = "http://testserver/hooks/46elks/tok"


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox()


@pytest.fixture
def acc(sb):
    return sb.add_account("46elks", CREDS, seed=1, size=200, webhook_base=HOOKS)


def make_adapter(sb: Sandbox, creds: dict[str, str] = CREDS, **options):
    conn = Connection(base_url=sb.base_url("46elks"), credentials=creds, options=options)
    return build_adapter("46elks", conn, transport=sb.transport())


@pytest.fixture
def ad(sb, acc):
    return make_adapter(sb)


def walk(ad, resource: str, cursor: str | None = None, max_pages: int = 10_000):
    """Page until done; returns (items, final cursor, pages)."""
    items, pages = [], 0
    while True:
        page = ad.list_page(resource, cursor)
        items += page.items
        cursor, pages = page.cursor, pages + 1
        if page.done or pages >= max_pages:
            return items, cursor, pages


def deliver(sb: Sandbox) -> list[tuple[str, WebhookRequest]]:
    """Flush the outbox into a capturing client; return (kind, request) per webhook."""
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(capture)) as client:
        sb.deliver_webhooks(client)
    out = []
    for req in seen:
        kind = req.url.path.rstrip("/").rsplit("/", 1)[-1]
        out.append(
            (
                kind,
                WebhookRequest(
                    method=req.method,
                    path=req.url.path,
                    headers=dict(req.headers),
                    query=dict(req.url.params),
                    body=req.content,
                    remote_addr="176.10.154.199",
                    content_type=req.headers.get("content-type", ""),
                ),
            )
        )
    return out


def raw_get(sb: Sandbox, path: str, auth=("u1", "p1")) -> httpx.Response:
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox") as client:
        return client.get(path, auth=auth)


# -- history paging ------------------------------------------------------------------------------
def test_paging_to_the_end_sees_every_sms_and_mms_once(sb):
    sb.add_account("46elks", CREDS, seed=7, size=350)
    items, cursor, pages = walk(make_adapter(sb), "messages")
    ids = [m.remote_id for m in items]
    assert len(ids) == len(set(ids)) == 350 + 35
    assert sum(m.kind is MessageKind.MMS for m in items) == 35
    assert pages == 5  # 4 SMS pages (100, 100, 100, 50) then one MMS page
    assert all(i.startswith("s") and len(i) == 33 for i in ids[:350])
    sms = [m.created_at for m in items if m.kind is MessageKind.SMS]
    assert sms == sorted(sms, reverse=True)  # newest first
    assert json.loads(cursor)["phase"] == "sms"


def test_seeded_history_has_a_realistic_mix(ad):
    items, _, _ = walk(ad, "messages")
    statuses = {m.status for m in items}
    assert {
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.RECEIVED,
        MessageStatus.SENT,
    } <= statuses
    assert {m.direction for m in items} == {Direction.INBOUND, Direction.OUTBOUND}
    outbound = [m for m in items if m.direction is Direction.OUTBOUND and m.kind is MessageKind.SMS]
    assert all(m.cost == Decimal("0.35") * m.parts for m in outbound)
    assert all(m.to_number.startswith("+") for m in items)
    mms = [m for m in items if m.kind is MessageKind.MMS]
    assert all(m.media and m.media[0].remote_id == f"{m.remote_id}-i0" for m in mms)
    assert any(m.status is MessageStatus.RECEIVED and m.raw_status == "recieved" for m in mms)


def test_seeded_history_is_deterministic_per_seed():
    first = [m.remote_id for m in make_adapter(_sandbox(seed=3)).list_messages(None).items]
    again = [m.remote_id for m in make_adapter(_sandbox(seed=3)).list_messages(None).items]
    other = [m.remote_id for m in make_adapter(_sandbox(seed=4)).list_messages(None).items]
    assert first == again and first != other


def _sandbox(seed: int, size: int = 200) -> Sandbox:
    sb = Sandbox()
    sb.add_account("46elks", CREDS, seed=seed, size=size)
    return sb


def test_a_crashed_sync_resumes_from_a_mid_history_cursor(sb, acc):
    ad = make_adapter(sb)
    p1 = ad.list_messages(None)
    # The process dies; a new adapter continues from the stored cursor.
    rest, _, _ = walk(make_adapter(sb), "messages", p1.cursor)
    full, _, _ = walk(make_adapter(sb), "messages")
    assert [m.remote_id for m in p1.items + rest] == [m.remote_id for m in full]


def test_an_incremental_sync_returns_new_sends_plus_the_lookback_window(sb, acc, ad):
    items, cursor, _ = walk(ad, "messages")
    newest_sms = max(m.created_at for m in items if m.kind is MessageKind.SMS)
    sent = [ad.send_sms(SmsRequest("Switchbd", f"+4670123456{i}", f"hi {i}")).remote_id for i in range(3)]
    again, cursor2, pages = walk(ad, "messages", cursor)
    got = {m.remote_id for m in again}
    assert set(sent) <= got
    window = {
        m.remote_id
        for m in items
        if m.kind is MessageKind.SMS and m.created_at > newest_sms - timedelta(hours=48)
    }
    old_sms = {m.remote_id for m in again if m.kind is MessageKind.SMS} - set(sent)
    assert old_sms == window  # exactly the lookback window of the old history, no more
    assert len(again) < len(items) / 4 and pages == 2
    # The sends now have their final status (delivery reports reconcile through history too).
    assert {m.status for m in again if m.remote_id in sent} == {MessageStatus.DELIVERED}
    # And the floor moved forward to the newest send.
    assert json.loads(cursor2)["hw"]["sms"] > json.loads(cursor)["hw"]["sms"]


def test_a_million_message_account_pages_without_materialising(sb):
    big = sb.add_account("46elks", {"username": "big", "password": "pw"}, seed=5, size=1_000_000)
    ad = make_adapter(sb, {"username": "big", "password": "pw"})
    cursor, seen = None, []
    for _ in range(3):
        page = ad.list_messages(cursor)
        seen += [m.remote_id for m in page.items]
        cursor = page.cursor
    assert len(set(seen)) == 300 and not page.done
    assert all(not records for records in big.state["live"].values())
    # Deep items are addressable by id without any table.
    assert ad.get_message(seen[-1]).remote_id == seen[-1]


def test_calls_recordings_numbers_and_subaccounts_page_to_the_end(ad):
    calls, _, _ = walk(ad, "calls")
    assert len(calls) == 50 and len({c.remote_id for c in calls}) == 50
    assert {CallState.COMPLETED, CallState.BUSY, CallState.FAILED} <= {c.state for c in calls}
    answered = [c for c in calls if c.state is CallState.COMPLETED]
    assert all(c.legs and c.duration and c.answered_at and c.cost for c in answered)
    recordings, _, _ = walk(ad, "recordings")
    assert recordings and {r.call_remote_id for r in recordings} <= {c.remote_id for c in answered}
    numbers, cursor, _ = walk(ad, "numbers")
    assert 5 <= len(numbers) <= 10 and cursor is None
    assert all(n.number.startswith("+46") and n.active for n in numbers)
    subs, _, _ = walk(ad, "subaccounts")
    assert len(subs) == 3 and all(s.credentials and s.usage_limit for s in subs)


def test_get_call_and_get_message_match_the_listing(ad):
    call = ad.list_calls(None).items[3]
    assert ad.get_call(call.remote_id) == call
    msg = ad.list_messages(None).items[7]
    assert ad.get_message(msg.remote_id) == msg


def test_an_unknown_id_is_rejected_with_the_providers_sentence(ad):
    with pytest.raises(Rejected, match="SMS not found"):
        ad.get_message("s" + "0" * 32)


def test_recordings_download_as_a_valid_wav(ad):
    recording = ad.list_recordings(None).items[0]
    data = b"".join(ad.download_recording(recording))
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 8000) and w.getnframes() > 0
    assert b"".join(ad.download_recording(recording)) == data  # deterministic


def test_mms_images_download_as_png(ad):
    mms = next(m for m in walk(ad, "messages")[0] if m.kind is MessageKind.MMS)
    data = b"".join(ad.download_media(mms.media[0].remote_id))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_capitalised_legacy_paths_work(sb, acc):
    assert raw_get(sb, "/46elks/a1/Me").json()["currency"] == "SEK"
    assert len(raw_get(sb, "/46elks/a1/SMS").json()["data"]) == 100
    assert raw_get(sb, "/46elks/a1/Calls").status_code == 200


# -- errors through the sandbox ---------------------------------------------------------------------
def test_wrong_password_is_auth_failed(sb, acc):
    with pytest.raises(AuthFailed):
        make_adapter(sb, {"username": "u1", "password": "wrong"}).check_credentials()
    response = raw_get(sb, "/46elks/a1/me", auth=None)
    assert response.status_code == 401 and response.headers["content-type"].startswith("text/plain")


def test_a_timeout_after_the_request_arrived_is_unavailable_and_the_ledger_has_it(sb, acc, ad):
    sb.faults.add("timeout", provider="46elks", endpoint="POST /a1/sms", count=1)
    with pytest.raises(Unavailable) as caught:
        ad.send_sms(SmsRequest("Switchbd", "+46701234567", "did it go?"))
    assert caught.value.request_sent
    (entry,) = sb.ledger.entries(provider="46elks", endpoint="POST /a1/sms")
    assert entry.fault == "timeout" and "did+it+go" in entry.body
    # The send took effect: reconciliation finds it in the history.
    newest = ad.list_messages(None).items[0]
    assert newest.body == "did it go?"


def test_a_rate_limit_fault_is_rate_limited_with_retry_after(sb, acc, ad):
    sb.faults.add("rate_limit", provider="46elks", endpoint="GET /a1/sms", count=1, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        ad.list_messages(None)
    assert caught.value.retry_after == 3.0
    assert ad.list_messages(None).items  # the next try goes through


def test_a_503_fault_is_unavailable(sb, acc, ad):
    sb.faults.add("error", provider="46elks", endpoint="GET /a1/calls", count=1, status=503)
    with pytest.raises(Unavailable) as caught:
        ad.list_calls(None)
    assert caught.value.status == 503 and caught.value.request_sent


def test_a_malformed_body_fault_is_unavailable(sb, acc, ad):
    sb.faults.add("malformed", provider="46elks", endpoint="GET /a1/me", count=1)
    with pytest.raises(Unavailable, match="alformed"):
        ad.get_balance()


@pytest.mark.parametrize(
    ("request_", "sentence"),
    [
        (SmsRequest("Switchbd", "0701234567", "hi"), "Invalid 'to' number"),
        (SmsRequest("Switchbd", "+46701234567", ""), "Message is empty"),
        (SmsRequest("ThisSenderIsTooLong", "+46701234567", "hi"), "Invalid 'from'"),
        (SmsRequest("Switchbd", "+46701234567", "hi", status_url="ftp://x"), "whendelivered"),
    ],
)
def test_validation_errors_are_rejected_with_a_short_sentence(ad, request_, sentence):
    with pytest.raises(Rejected, match=sentence) as caught:
        ad.send_sms(request_)
    assert caught.value.status == 403


# -- sending ------------------------------------------------------------------------------------------
def test_send_sms_then_delivery_reports_become_status_events(sb, acc, ad):
    before = ad.get_balance().amount
    result = ad.send_sms(SmsRequest("Switchbd", "+46701234567", "Hej på dig", status_url=f"{HOOKS}/dlr/"))
    assert (result.status, result.raw_status, result.parts, result.cost) == (
        MessageStatus.SENDING,
        "created",
        1,
        Decimal("0.35"),
    )
    assert ad.get_balance().amount == before - Decimal("0.35")
    hooks = deliver(sb)
    assert [kind for kind, _ in hooks] == ["dlr", "dlr"]
    events = [e for kind, req in hooks for e in ad.parse_webhook(kind, req)]
    assert [(e.type, e.status_update.remote_id, e.status_update.status) for e in events] == [
        (EventType.MESSAGE_STATUS, result.remote_id, MessageStatus.SENT),
        (EventType.MESSAGE_STATUS, result.remote_id, MessageStatus.DELIVERED),
    ]
    assert events[1].status_update.occurred_at is not None
    assert events[0].event_id != events[1].event_id


def test_recipients_ending_in_0000_always_fail(sb, acc, ad):
    result = ad.send_sms(SmsRequest("Switchbd", "+46700000000", "x", status_url=f"{HOOKS}/dlr/"))
    events = [e for kind, req in deliver(sb) for e in ad.parse_webhook(kind, req)]
    assert [e.status_update.status for e in events] == [MessageStatus.SENT, MessageStatus.FAILED]
    assert ad.get_message(result.remote_id).status is MessageStatus.FAILED


def test_long_and_unicode_messages_count_parts_like_46elks(ad):
    assert ad.estimate_sms(SmsRequest("Switchbd", "+46701234567", "a" * 160)).parts == 1
    assert ad.estimate_sms(SmsRequest("Switchbd", "+46701234567", "a" * 161)).parts == 2
    assert ad.estimate_sms(SmsRequest("Switchbd", "+46701234567", "å" * 70 + "🙂")).parts == 2
    assert ad.estimate_sms(SmsRequest("Switchbd", "+46701234567", "ж" * 70)).parts == 1


def test_a_dry_run_estimates_without_sending_or_charging(sb, acc, ad):
    before = ad.get_balance().amount
    estimate = ad.estimate_sms(SmsRequest("Switchbd", "+46701234567", "x" * 300, status_url=f"{HOOKS}/dlr/"))
    assert (estimate.cost, estimate.parts, estimate.currency) == (Decimal("0.70"), 2, "SEK")
    assert ad.get_balance().amount == before and sb.outbox.pending() == 0
    assert not acc.state["live"]["sms"]


def test_send_mms_appears_in_history_with_its_image(ad):
    result = ad.send_mms(SmsRequest("+46766861004", "+46701234567", "Look", media_urls=["https://x/cat.png"]))
    assert result.remote_id.startswith("m") and result.cost == Decimal("1.25")
    msg = ad.get_message(result.remote_id)
    assert msg.kind is MessageKind.MMS and msg.media[0].remote_id == f"{result.remote_id}-i0"
    assert b"".join(ad.download_media(msg.media[0].remote_id)).startswith(b"\x89PNG")


def test_place_call_then_hangup_webhook_is_the_completed_call(sb, acc, ad):
    result = ad.place_call(
        CallRequest(
            "+46766861004",
            "+46701234567",
            {"connect": "+46702222222", "recordcall": "https://x/rec"},
            timeout=30,
            status_url=f"{HOOKS}/hangup/",
        )
    )
    assert (result.status, result.raw_status) == (CallState.IN_PROGRESS, "ongoing")
    ((kind, request),) = deliver(sb)
    (event,) = ad.parse_webhook(kind, request)
    call = event.call
    assert (call.remote_id, call.state, call.direction) == (
        result.remote_id,
        CallState.COMPLETED,
        Direction.OUTBOUND,
    )
    assert call.duration and call.cost and call.legs and call.actions[0]["result"] == "success"
    assert ad.get_call(result.remote_id).state is CallState.COMPLETED
    recording = ad.list_recordings(None).items[0]
    assert recording.call_remote_id == result.remote_id
    assert b"".join(ad.download_recording(recording))[:4] == b"RIFF"


def test_a_call_with_a_url_voice_start_gets_newoutgoing_then_hangup(sb, acc, ad):
    ad.place_call(
        CallRequest(
            "+46766861004", "+46701234567", {}, answer_url=f"{HOOKS}/voice/", status_url=f"{HOOKS}/hangup/"
        )
    )
    events = [(kind, ad.parse_webhook(kind, req)[0]) for kind, req in deliver(sb)]
    assert [(k, e.call.state) for k, e in events] == [
        ("voice", CallState.IN_PROGRESS),
        ("hangup", CallState.COMPLETED),
    ]


def test_a_failed_call_hangs_up_without_start(sb, acc, ad):
    ad.place_call(
        CallRequest("+46766861004", "+46700000000", {"play": "sound/beep"}, status_url=f"{HOOKS}/hangup/")
    )
    ((kind, request),) = deliver(sb)
    call = ad.parse_webhook(kind, request)[0].call
    assert (call.state, call.answered_at, call.cost) == (CallState.FAILED, None, None)


def test_a_call_with_a_bad_action_is_rejected(ad):
    with pytest.raises(Rejected, match="timeout"):
        ad.place_call(CallRequest("+46766861004", "+46701234567", {"play": "x"}, timeout=0))


# -- numbers and subaccounts -----------------------------------------------------------------------
def test_allocate_configure_and_release_a_number(ad):
    number = ad.allocate_number("se", ["sms", "mms", "voice"])
    assert number.remote_id.startswith("n") and number.number.startswith("+46") and number.active
    assert number.capabilities == ["sms", "mms", "voice"] and number.country == "SE"
    configured = ad.configure_number(
        number.remote_id,
        NumberConfig(sms_url="https://hooks/sms/", voice_url='{"connect": "+46701111111"}', name="Sales"),
    )
    assert (configured.sms_url, configured.name) == ("https://hooks/sms/", "Sales")
    cleared = ad.configure_number(number.remote_id, NumberConfig(sms_url=""))
    assert cleared.sms_url == "" and cleared.name == "Sales"
    released = ad.release_number(number.remote_id)
    assert released.active is False and released.raw["deallocated"]
    with pytest.raises(Rejected, match="deallocated"):
        ad.configure_number(number.remote_id, NumberConfig(name="again"))
    assert number.remote_id in {n.remote_id for n in ad.list_numbers(None).items}


def test_allocating_in_an_unsupported_country_is_rejected(ad):
    with pytest.raises(Rejected, match="No numbers available"):
        ad.allocate_number("zz", ["sms"])


def test_create_and_update_a_subaccount_whose_credentials_log_in(sb, acc, ad):
    sub = ad.create_subaccount("Kund AB", Decimal("250"))
    assert (sub.name, sub.usage_limit, sub.active) == ("Kund AB", Decimal("250"), True)
    updated = ad.update_subaccount(sub.remote_id, name="Kund AB (north)", usage_limit=Decimal("99.5"))
    assert (updated.name, updated.usage_limit) == ("Kund AB (north)", Decimal("99.5"))
    sub_info = make_adapter(sb, sub.credentials).check_credentials()
    assert sub_info.remote_id == sub.remote_id
    assert sub.remote_id in {s.remote_id for s in ad.list_subaccounts(None).items}


def test_a_seeded_subaccount_can_log_in_with_its_id_and_secret(sb, acc, ad):
    sub = ad.list_subaccounts(None).items[0]
    assert make_adapter(sb, sub.credentials).check_credentials().remote_id == sub.remote_id


# -- emitted inbound traffic -----------------------------------------------------------------------
def test_emitted_sms_posts_to_the_account_hook_and_lands_in_history(sb, acc, ad):
    emitted = sb.emit("46elks", acc, "sms", message="Hej från kund", **{"from": "+46705555555"})
    ((kind, request),) = deliver(sb)
    assert kind == "sms" and request.path == "/hooks/46elks/tok/sms/"
    (event,) = ad.parse_webhook(kind, request)
    assert event.type is EventType.MESSAGE_INBOUND
    assert (event.message.remote_id, event.message.body, event.message.from_number) == (
        emitted["id"],
        "Hej från kund",
        "+46705555555",
    )
    assert ad.list_messages(None).items[0].remote_id == emitted["id"]


def test_emitted_sms_goes_to_the_numbers_own_sms_url_when_configured(sb, acc, ad):
    number = ad.list_numbers(None).items[0]
    ad.configure_number(number.remote_id, NumberConfig(sms_url="http://elsewhere/in/sms/"))
    emitted = sb.emit("46elks", acc, "sms", to=number.number)
    assert emitted["url"] == "http://elsewhere/in/sms/"


def test_emitted_mms_carries_image_urls_the_adapter_can_download(sb, acc, ad):
    emitted = sb.emit("46elks", acc, "mms", images=2)
    ((kind, request),) = deliver(sb)
    message = ad.parse_webhook(kind, request)[0].message
    assert message.remote_id == emitted["id"]
    assert [m.remote_id for m in message.media] == [f"{emitted['id']}-i0", f"{emitted['id']}-i1"]
    assert b"".join(ad.download_media(message.media[1].remote_id)).startswith(b"\x89PNG")


def test_emitted_call_posts_voice_start_then_hangup(sb, acc, ad):
    emitted = sb.emit("46elks", acc, "call")
    events = [(kind, ad.parse_webhook(kind, req)[0]) for kind, req in deliver(sb)]
    assert [(k, e.call.state) for k, e in events] == [
        ("voice", CallState.RINGING),
        ("hangup", CallState.COMPLETED),
    ]
    assert all(e.call.remote_id == emitted["id"] and e.call.direction is Direction.INBOUND for _, e in events)
    assert events[0][1].reply is None
    assert ad.get_call(emitted["id"]).state is CallState.COMPLETED


def test_live_records_merge_into_history_by_time(sb, acc, ad):
    sent = ad.send_sms(SmsRequest("Switchbd", "+46701234567", "first"))
    emitted = sb.emit("46elks", acc, "sms")
    top = ad.list_messages(None).items[:2]
    assert [m.remote_id for m in top] == [emitted["id"], sent.remote_id]
    assert top[0].created_at > top[1].created_at > parse_time(acc.anchor)
