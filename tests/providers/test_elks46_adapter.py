"""The 46elks adapter against exact provider bodies (httpx.MockTransport): the docs' JSON
examples, error responses, cursor mechanics and webhook forms. No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from providers.adapters import build_adapter
from providers.adapters.base import Connection
from providers.adapters.errors import AuthFailed, RateLimited, Rejected, Unavailable, WebhookRejected
from providers.adapters.records import (
    CallRequest,
    CallState,
    Capability,
    Direction,
    EventType,
    MessageKind,
    MessageStatus,
    NumberConfig,
    RemoteRecording,
    SmsRequest,
    WebhookRequest,
)

EXAMPLES = json.loads((Path(__file__).parent / "data" / "elks46" / "examples.json").read_text())
BASE = "https://api.46elks.com/a1"
CREDS = {"username": "u0123456789abcdef", "password": "S3CRET-PASSWORD-XYZ"}


class Fake:
    """Routes `METHOD path` (relative to /a1) to canned responses and keeps every request."""

    def __init__(self, routes: dict[str, httpx.Response | dict | list]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.path.removeprefix('/a1/')}"
        answer = self.routes.get(key)
        if answer is None:
            return httpx.Response(404, text="Not found.")
        if callable(answer):
            return answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def form(self, i: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[i].content.decode(), keep_blank_values=True))

    def params(self, i: int = -1) -> dict[str, str]:
        return dict(self.requests[i].url.params)


def adapter(routes: dict, *, options: dict | None = None):
    fake = Fake(routes)
    options = {"currency": "SEK"} if options is None else options
    ad = build_adapter(
        "46elks",
        Connection(base_url=BASE, credentials=CREDS, options=options),
        transport=httpx.MockTransport(fake),
    )
    return ad, fake


def hook(form: dict[str, str] | bytes, *, remote_addr: str = "176.10.154.199") -> WebhookRequest:
    body = form if isinstance(form, bytes) else urlencode(form).encode()
    return WebhookRequest(
        method="POST",
        path="/hooks/46elks/tok/x/",
        headers={"content-type": "application/x-www-form-urlencoded"},
        query={},
        body=body,
        remote_addr=remote_addr,
        content_type="application/x-www-form-urlencoded",
    )


# -- the contract -------------------------------------------------------------------------------
def test_adapter_is_registered_under_its_code_with_every_46elks_capability():
    ad, _ = adapter({})
    assert ad.code == "46elks"
    assert ad.capabilities == frozenset(Capability)
    assert ad.webhook_kinds == ("sms", "mms", "dlr", "voice", "hangup")
    assert ad.validate_credentials({"username": " u1 ", "password": "p1"}) == {
        "username": "u1",
        "password": "p1",
    }
    with pytest.raises(ValueError):
        ad.validate_credentials({"username": "u1"})


def test_requests_use_basic_auth_and_form_encoding():
    ad, fake = adapter({"POST sms": EXAMPLES["sms_send"]})
    ad.send_sms(SmsRequest("Lasse", "+46723175800", "Hej"))
    request = fake.requests[0]
    assert request.headers["authorization"].startswith("Basic ")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


# -- the docs' JSON examples ---------------------------------------------------------------------
def test_cost_is_ten_thousandths_of_the_currency():
    ad, _ = adapter({"GET sms": EXAMPLES["sms_list"], "GET mms": {"data": []}})
    page = ad.list_messages(None)
    assert page.items[0].cost == Decimal("0.35")
    assert page.items[0].currency == "SEK"
    assert page.items[1].cost is None  # incoming messages carry no cost


def test_times_are_aware_utc_with_microseconds():
    ad, _ = adapter({"GET sms/s3633fa8e62f823e52fbc67ebf6925ab5": EXAMPLES["sms_one"]})
    msg = ad.get_message("s3633fa8e62f823e52fbc67ebf6925ab5")
    assert msg.created_at == datetime(2016, 8, 18, 9, 55, 31, 116000, tzinfo=UTC)
    assert msg.created_at.utcoffset().total_seconds() == 0


def test_sms_history_example_maps_direction_and_status():
    ad, _ = adapter({"GET sms": EXAMPLES["sms_list"], "GET mms": {"data": []}})
    out, inc = ad.list_messages(None).items
    assert (out.kind, out.direction, out.from_number, out.to_number) == (
        MessageKind.SMS,
        Direction.OUTBOUND,
        "Lasse",
        "+46723175800",
    )
    # The example omits `status`: an outgoing message without one is unknown, not guessed.
    assert (out.status, out.raw_status) == (MessageStatus.UNKNOWN, "")
    assert (inc.direction, inc.status, inc.body) == (Direction.INBOUND, MessageStatus.RECEIVED, "TEst 32423")
    assert out.raw["id"] == "s70df59406a1b4643b96f3f91e0bfb7b0"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("created", MessageStatus.SENDING),
        ("sent", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("failed", MessageStatus.FAILED),
        ("recieved", MessageStatus.RECEIVED),
        ("received", MessageStatus.RECEIVED),
        ("something-new", MessageStatus.UNKNOWN),
    ],
)
def test_message_statuses_map_onto_our_vocabulary_and_keep_the_raw_word(raw, expected):
    row = {**EXAMPLES["sms_send"], "status": raw, "delivered": "2016-10-11T13:36:20.000000Z"}
    ad, _ = adapter({"GET sms/x": row})
    msg = ad.get_message("x")
    assert (msg.status, msg.raw_status) == (expected, raw)
    assert (msg.delivered_at is not None) == (expected is MessageStatus.DELIVERED)


def test_outgoing_reply_is_outbound():
    ad, _ = adapter({"GET sms/x": {**EXAMPLES["sms_one"], "direction": "outgoing-reply"}})
    assert ad.get_message("x").direction is Direction.OUTBOUND


def test_mms_history_example_has_kind_mms_and_image_media():
    ad, _ = adapter({"GET sms": {"data": []}, "GET mms": EXAMPLES["mms_list"]})
    first = ad.list_messages(None)
    assert first.items == [] and not first.done
    page = ad.list_messages(first.cursor)
    out, inc = page.items
    assert out.kind is MessageKind.MMS and out.cost == Decimal("1.25")
    assert [m.remote_id for m in out.media] == ["m70df59406a1b4643b96f3f91e0bfb7b0-i0"]
    assert out.media[0].url == f"{BASE}/images/m70df59406a1b4643b96f3f91e0bfb7b0-i0"
    assert inc.direction is Direction.INBOUND and inc.status is MessageStatus.RECEIVED
    assert page.done


def test_get_message_with_an_m_id_reads_the_mms_endpoint():
    ad, fake = adapter({"GET mms/m84af96809ff8989f3668c93aaedb69c": EXAMPLES["mms_one"]})
    msg = ad.get_message("m84af96809ff8989f3668c93aaedb69c")
    assert msg.kind is MessageKind.MMS and msg.media[0].remote_id == "m84af96809ff8989f3668c93aaedb69c-i0"
    assert fake.requests[0].url.path == "/a1/mms/m84af96809ff8989f3668c93aaedb69c"


def test_call_history_example_maps_state_legs_actions_and_duration():
    ad, _ = adapter({"GET calls": EXAMPLES["calls_list"]})
    failed, answered = ad.list_calls(None).items
    assert (failed.state, failed.raw_state, failed.direction) == (
        CallState.FAILED,
        "failed",
        Direction.OUTBOUND,
    )
    assert failed.answered_at is None and failed.duration is None and failed.cost is None
    assert (answered.state, answered.direction) == (CallState.COMPLETED, Direction.INBOUND)
    assert answered.cost == Decimal("0.15")  # "1500" as a string in the docs
    assert answered.duration == 15
    assert answered.answered_at == datetime(2016, 11, 3, 9, 24, 24, 333000, tzinfo=UTC)
    assert answered.ended_at == datetime(2016, 11, 3, 9, 24, 39, 333000, tzinfo=UTC)
    leg = answered.legs[0]
    assert (leg.to_number, leg.state, leg.duration) == ("+4634090510", CallState.COMPLETED, 14)
    assert answered.actions == [{"connect": "+4634090510", "result": "success"}]


def test_swagger_call_example_with_integer_cost_parses_the_same():
    ad, _ = adapter({"GET calls/c595183c042b1e43d1c8e79b9fd5cbcab": EXAMPLES["call_one_swagger"]})
    call = ad.get_call("c595183c042b1e43d1c8e79b9fd5cbcab")
    assert call.cost == Decimal("0.15") and call.state is CallState.COMPLETED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ongoing", CallState.IN_PROGRESS),
        ("success", CallState.COMPLETED),
        ("busy", CallState.BUSY),
        ("failed", CallState.FAILED),
        ("weird", CallState.UNKNOWN),
    ],
)
def test_call_states_map_onto_our_vocabulary(raw, expected):
    ad, _ = adapter({"GET calls/c1": {**EXAMPLES["call_start"], "state": raw}})
    call = ad.get_call("c1")
    assert (call.state, call.raw_state) == (expected, raw)


def test_place_call_sends_the_action_as_json_with_whenhangup_and_timeout():
    ad, fake = adapter({"POST calls": EXAMPLES["call_start"]})
    result = ad.place_call(
        CallRequest(
            "+46766861004",
            "+46723175800",
            {"connect": "+46701111111"},
            timeout=25,
            status_url="https://hooks/hangup/",
        )
    )
    assert (result.remote_id, result.status, result.raw_status) == (
        "c719b1eefbf65b1f89c013e6433dbf537",
        CallState.IN_PROGRESS,
        "ongoing",
    )
    form = fake.form()
    assert json.loads(form["voice_start"]) == {"connect": "+46701111111"}
    assert (form["whenhangup"], form["timeout"], form["from"]) == (
        "https://hooks/hangup/",
        "25",
        "+46766861004",
    )


def test_send_sms_maps_created_to_sending_and_posts_whendelivered():
    ad, fake = adapter({"POST sms": {**EXAMPLES["sms_send"], "status": "created", "parts": 1}})
    result = ad.send_sms(SmsRequest("Lasse", "+46723175800", "Hej", status_url="https://hooks/dlr/"))
    assert (result.remote_id, result.status, result.raw_status) == (
        "s70df59406a1b4643b96f3f91e0bfb7b0",
        MessageStatus.SENDING,
        "created",
    )
    assert (result.cost, result.currency, result.parts) == (Decimal("0.35"), "SEK", 1)
    assert fake.form() == {
        "from": "Lasse",
        "to": "+46723175800",
        "message": "Hej",
        "whendelivered": "https://hooks/dlr/",
    }


def test_send_answer_without_status_counts_as_created():
    ad, _ = adapter({"POST sms": EXAMPLES["sms_send"]})
    assert ad.send_sms(SmsRequest("Lasse", "+46723175800", "Hej")).status is MessageStatus.SENDING


def test_dry_run_returns_the_estimate_in_currency_units():
    ad, fake = adapter(
        {"POST sms": {"status": "created", "estimated_cost": 7000, "parts": 2, "to": "+46723175800"}}
    )
    estimate = ad.estimate_sms(
        SmsRequest("Lasse", "+46723175800", "x" * 200, status_url="https://hooks/dlr/")
    )
    assert (estimate.cost, estimate.currency, estimate.parts, estimate.source) == (
        Decimal("0.7"),
        "SEK",
        2,
        "dryrun",
    )
    assert fake.form()["dryrun"] == "yes" and "whendelivered" not in fake.form()


def test_send_mms_posts_the_image_and_reads_the_docs_answer():
    ad, fake = adapter({"POST mms": EXAMPLES["mms_send"]})
    result = ad.send_mms(SmsRequest("+46766861218", "+46723175800", "Hej!", media_urls=["https://x/img.png"]))
    assert (result.remote_id, result.cost) == ("mf3d05c159aa49e1951c5301bc6af1bac", Decimal("1.25"))
    assert fake.form()["image"] == "https://x/img.png"


def test_send_mms_with_two_images_is_refused_before_any_request():
    ad, fake = adapter({})
    with pytest.raises(Rejected):
        ad.send_mms(SmsRequest("+46766861218", "+46723175800", "x", media_urls=["https://a", "https://b"]))
    assert fake.requests == []


def test_me_example_gives_account_info_and_balance_in_currency_units():
    ad, _ = adapter({"GET me": EXAMPLES["me_creditalert_swagger"]}, options={})
    info = ad.check_credentials()
    assert (info.remote_id, info.name, info.currency) == (
        "u5a9566c072160b318445d163949bf505",
        "Your name or company",
        "SEK",
    )
    balance = ad.get_balance()
    assert (balance.amount, balance.currency, balance.credit_alert) == (
        Decimal("967.05"),
        "SEK",
        Decimal("20"),
    )


def test_balance_without_creditalert_leaves_it_none():
    ad, _ = adapter({"GET me": EXAMPLES["me"]})
    assert ad.get_balance().credit_alert is None


def test_currency_comes_from_me_once_per_adapter_when_not_configured():
    eur_me = {**EXAMPLES["me"], "currency": "EUR"}
    ad, fake = adapter({"GET me": eur_me, "GET calls": EXAMPLES["calls_list"]}, options={})
    assert ad.list_calls(None).items[1].currency == "EUR"
    ad.list_calls(None)
    assert [r.url.path for r in fake.requests].count("/a1/me") == 1


def test_configured_currency_skips_the_me_lookup():
    ad, fake = adapter({"GET calls": EXAMPLES["calls_list"]}, options={"currency": "EUR"})
    assert ad.list_calls(None).items[1].currency == "EUR"
    assert all(r.url.path != "/a1/me" for r in fake.requests)


@pytest.mark.parametrize("example", ["numbers_list", "numbers_list_swagger"])
def test_numbers_examples_parse_both_boolean_and_yes_no_active(example):
    ad, _ = adapter({"GET numbers": EXAMPLES[example]})
    page = ad.list_numbers(None)
    assert page.done and page.cursor is None
    first, second = page.items
    assert (first.remote_id, first.number, first.country, first.category) == (
        "n53c05a4e002ae26f790cbaf82b93bc37",
        "+46766861475",
        "SE",
        "mobile",
    )
    assert first.active is True and first.capabilities == ["sms", "voice"]
    assert first.voice_url.startswith("http://www.server.nu/") and first.sms_url == ""
    assert first.expires_at == datetime(2016, 12, 1, 7, 52, 15, tzinfo=UTC)
    assert second.capabilities == ["sms", "voice", "mms"] and second.sms_url.startswith("http://")


def test_allocate_number_posts_country_and_capabilities():
    ad, fake = adapter({"POST numbers": EXAMPLES["number_allocated"]})
    number = ad.allocate_number("SE", ["sms", "voice"])
    assert fake.form() == {"country": "se", "capabilities": "sms,voice"}
    assert number.remote_id == "n53c05a4e002ae26f790cbaf82b93bc37" and number.active


def test_configure_number_clears_with_none_and_maps_voice_url_to_voice_start():
    ad, fake = adapter({"POST numbers/n1": EXAMPLES["number_allocated"]})
    ad.configure_number("n1", NumberConfig(sms_url="", voice_url="https://hooks/voice/", name="Support"))
    assert fake.form() == {"sms_url": "none", "voice_start": "https://hooks/voice/", "name": "Support"}


def test_release_number_deactivates_it():
    released = {**EXAMPLES["number_allocated"], "active": "no", "deallocated": "2016-11-01T00:00:00.000000"}
    ad, fake = adapter({"POST numbers/n1": released})
    number = ad.release_number("n1")
    assert fake.form() == {"active": "no"} and number.active is False


def test_subaccount_examples_carry_usage_limits_and_credentials():
    ad, _ = adapter({"GET subaccounts": EXAMPLES["subaccounts_list"]})
    first, second = ad.list_subaccounts(None).items
    assert (first.usage, first.usage_limit) == (Decimal("0"), Decimal("6757567"))
    assert (second.usage, second.usage_limit) == (Decimal("34.53"), Decimal("34535"))
    assert second.credentials == {
        "username": "af3d05a159669e1951c5301bc6a61bac2",
        "password": "D81DEF1B65E19A83DBCEA0BE0D89D082",
    }
    assert "secret" not in second.raw  # the secret only travels in `credentials`
    assert second.created_at == datetime(2014, 12, 8, 13, 18, 7, 625000, tzinfo=UTC)


def test_balanceused_is_read_as_usage():
    ad, _ = adapter({"POST subaccounts/a1": {**EXAMPLES["subaccount_one"], "balanceused": 500}})
    sub = ad.update_subaccount("a1", name="This Co")
    assert sub.usage == Decimal("0.05")


def test_create_subaccount_sends_the_usage_limit_in_ten_thousandths():
    ad, fake = adapter({"POST subaccounts": EXAMPLES["subaccount_created"]})
    sub = ad.create_subaccount("This Co2", Decimal("100.50"))
    assert fake.form() == {"name": "This Co2", "usagelimit": "1005000"}
    assert sub.usage_limit == Decimal("999999.9999") and sub.credentials["username"] == sub.remote_id


def test_update_subaccount_changes_only_what_is_given_and_clears_limit_with_none():
    ad, fake = adapter({"POST subaccounts/af3d": EXAMPLES["subaccount_updated"]})
    ad.update_subaccount("af3d", name="This Co")
    assert fake.form() == {"name": "This Co"}
    ad.update_subaccount("af3d", usage_limit="")
    assert fake.form() == {"usagelimit": "none"}


def test_recordings_example_links_each_recording_to_its_call():
    ad, _ = adapter({"GET recordings": EXAMPLES["recordings_list"]})
    first, second = ad.list_recordings(None).items
    assert (first.remote_id, first.call_remote_id, first.duration) == (
        "c361e5927d2c4d7dcf71a142dc0ec6d9b-r0",
        "c361e5927d2c4d7dcf71a142dc0ec6d9b",
        1,
    )
    assert second.created_at == datetime(2015, 2, 24, 15, 9, 8, 146000, tzinfo=UTC)


def test_download_recording_streams_the_wav():
    rec_id = "c361e5927d2c4d7dcf71a142dc0ec6d9b-r0"
    ad, _ = adapter({f"GET recordings/{rec_id}.wav": httpx.Response(200, content=b"RIFF....WAVE")})
    recording = RemoteRecording(rec_id, rec_id[:-3], datetime.now(UTC))
    assert b"".join(ad.download_recording(recording)) == b"RIFF....WAVE"


def test_download_media_asks_the_file_type_then_fetches_the_file():
    image_id = "m84af96809ff8989f3668c93aaedb69c-i0"
    ad, fake = adapter(
        {
            f"GET images/{image_id}": EXAMPLES["image_one"],
            f"GET images/{image_id}.jpg": httpx.Response(200, content=b"\xff\xd8jpeg"),
        }
    )
    assert b"".join(ad.download_media(image_id)) == b"\xff\xd8jpeg"
    assert fake.requests[-1].url.path.endswith(".jpg")


def test_a_missing_recording_download_is_rejected_with_the_provider_text():
    ad, _ = adapter({})
    with pytest.raises(Rejected, match="Not found"):
        b"".join(ad.download_recording(RemoteRecording("r", "c", datetime.now(UTC))))


# -- errors -----------------------------------------------------------------------------------------
def test_401_is_auth_failed_without_credentials_in_the_message():
    ad, _ = adapter({"GET me": httpx.Response(401, text="Unauthorized")})
    with pytest.raises(AuthFailed) as caught:
        ad.check_credentials()
    assert caught.value.status == 401
    assert CREDS["password"] not in caught.value.message and CREDS["username"] not in caught.value.message


def test_403_text_plain_is_rejected_with_the_providers_sentence():
    body = "Invalid to number.\n"
    ad, _ = adapter({"POST sms": httpx.Response(403, text=body, headers={"content-type": "text/plain"})})
    with pytest.raises(Rejected) as caught:
        ad.send_sms(SmsRequest("Lasse", "0701", "hi"))
    assert (caught.value.message, caught.value.status) == ("Invalid to number.", 403)


@pytest.mark.parametrize("status", [400, 402, 404, 405, 422])
def test_other_4xx_are_rejected(status):
    ad, _ = adapter({"GET calls/c1": httpx.Response(status, text="Nope.")})
    with pytest.raises(Rejected, match=r"Nope\."):
        ad.get_call("c1")


def test_an_empty_error_body_still_gives_a_useful_message():
    ad, _ = adapter({"GET calls/c1": httpx.Response(403)})
    with pytest.raises(Rejected, match="HTTP 403"):
        ad.get_call("c1")


def test_a_long_error_body_is_truncated_and_scrubbed_of_credentials():
    body = f"Bad request for {CREDS['password']} " + "x" * 2000
    ad, _ = adapter({"POST sms": httpx.Response(400, text=body)})
    with pytest.raises(Rejected) as caught:
        ad.send_sms(SmsRequest("Lasse", "+46723175800", "hi"))
    assert len(caught.value.message) <= 300 and CREDS["password"] not in caught.value.message


def test_429_is_rate_limited_with_retry_after():
    ad, _ = adapter({"GET sms": httpx.Response(429, text="Too many requests", headers={"Retry-After": "7"})})
    with pytest.raises(RateLimited) as caught:
        ad.list_messages(None)
    assert caught.value.retry_after == 7.0 and caught.value.retryable


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable_and_may_have_reached_the_provider(status):
    ad, _ = adapter({"POST sms": httpx.Response(status, text="Service temporarily unavailable")})
    with pytest.raises(Unavailable) as caught:
        ad.send_sms(SmsRequest("Lasse", "+46723175800", "hi"))
    assert caught.value.request_sent and caught.value.status == status


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b'{"data": [{"id": ', headers={"content-type": "application/json"}),
        httpx.Response(200, text="<html>proxy error</html>"),
        httpx.Response(200, json={"items": []}),
        httpx.Response(200, json={"data": [{"id": "s1", "created": "yesterday"}]}),
        httpx.Response(200, json={"data": [{"direction": "incoming"}]}),
    ],
)
def test_an_unreadable_2xx_body_is_unavailable_malformed(response):
    ad, _ = adapter({"GET sms": response})
    with pytest.raises(Unavailable, match="alformed response"):
        ad.list_messages(None)


def test_a_transport_timeout_is_unavailable_with_request_sent():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    ad, _ = adapter({"POST sms": timeout})
    with pytest.raises(Unavailable) as caught:
        ad.send_sms(SmsRequest("Lasse", "+46723175800", "hi"))
    assert caught.value.request_sent


def test_a_failing_me_after_a_successful_send_does_not_fail_the_send():
    ad, _ = adapter({"POST sms": EXAMPLES["sms_send"], "GET me": httpx.Response(503)}, options={})
    result = ad.send_sms(SmsRequest("Lasse", "+46723175800", "Hej"))
    assert result.remote_id == "s70df59406a1b4643b96f3f91e0bfb7b0" and result.currency == "SEK"


# -- cursor mechanics ---------------------------------------------------------------------------------
def _row(i: int, created: str, kind: str = "s") -> dict:
    return {
        "id": f"{kind}{i:032x}",
        "direction": "outgoing",
        "from": "A",
        "to": "+46700000000",
        "created": created,
    }


def test_paging_walks_sms_then_mms_passing_next_as_start_and_resumes_from_any_cursor():
    pages = {
        None: {
            "data": [_row(3, "2024-01-03T00:00:00.000000"), _row(2, "2024-01-02T00:00:00.000000")],
            "next": "2024-01-02T00:00:00.000000",
        },
        "2024-01-02T00:00:00.000000": {"data": [_row(1, "2024-01-01T00:00:00.000000")]},
    }
    ad, fake = adapter(
        {
            "GET sms": lambda req: httpx.Response(200, json=pages[req.url.params.get("start")]),
            "GET mms": {"data": [_row(9, "2023-12-31T12:00:00.000000", "m")]},
        }
    )
    p1 = ad.list_messages(None)
    assert (len(p1.items), p1.done) == (2, False)
    assert fake.params() == {"limit": "100"}
    # A crash here: a fresh adapter resumes from the stored cursor.
    ad2, fake2 = adapter(fake.routes)
    p2 = ad2.list_messages(p1.cursor)
    assert fake2.params() == {"limit": "100", "start": "2024-01-02T00:00:00.000000"}
    assert [m.remote_id for m in p2.items] == [f"s{1:032x}"] and not p2.done
    p3 = ad2.list_messages(p2.cursor)
    assert fake2.requests[-1].url.path == "/a1/mms" and "start" not in fake2.params()
    assert p3.done and p3.items[0].kind is MessageKind.MMS
    # The next sync only asks for items after (newest seen − 48 h), per endpoint.
    state = json.loads(p3.cursor)
    assert state["floor"] == {"sms": "2024-01-01T00:00:00.000000", "mms": "2023-12-29T12:00:00.000000"}
    ad2.list_messages(p3.cursor)
    assert fake2.params() == {"limit": "100", "end": "2024-01-01T00:00:00.000000"}


def test_lookback_window_is_configurable():
    ad, fake = adapter(
        {"GET calls": {"data": [EXAMPLES["calls_list"]["data"][0]]}},
        options={"currency": "SEK", "lookback_hours": 1},
    )
    done = ad.list_calls(None)
    assert done.done
    ad.list_calls(done.cursor)
    assert fake.params()["end"] == "2016-11-03T14:08:14.609000"


def test_a_quiet_endpoint_keeps_its_previous_floor():
    ad, _ = adapter({"GET calls": {"data": []}})
    cursor = json.dumps(
        {
            "v": 1,
            "phase": "calls",
            "start": None,
            "floor": {"calls": "2024-01-01T00:00:00.000000"},
            "hw": {"calls": "2024-01-03T00:00:00.000000"},
        }
    )
    page = ad.list_calls(cursor)
    assert page.done and json.loads(page.cursor)["floor"]["calls"] == "2024-01-01T00:00:00.000000"


def test_a_next_that_does_not_move_ends_the_walk_instead_of_looping():
    ad, _ = adapter({"GET recordings": {**EXAMPLES["recordings_list"], "next": None}})
    assert ad.list_recordings(None).done


def test_a_foreign_cursor_starts_a_full_backfill():
    ad, fake = adapter({"GET calls": EXAMPLES["calls_list"]})
    ad.list_calls("not json")
    assert fake.params() == {"limit": "100"}


def test_numbers_page_with_next_then_start_over_next_sync():
    first = {"data": EXAMPLES["numbers_list"]["data"][:1], "next": "2016-01-01T00:00:00.000000"}
    ad, fake = adapter(
        {
            "GET numbers": lambda req: httpx.Response(
                200,
                json=first
                if "start" not in req.url.params
                else {"data": EXAMPLES["numbers_list"]["data"][1:]},
            )
        }
    )
    p1 = ad.list_numbers(None)
    assert not p1.done
    p2 = ad.list_numbers(p1.cursor)
    assert fake.params()["start"] == "2016-01-01T00:00:00.000000" and p2.done and p2.cursor is None


# -- webhooks -----------------------------------------------------------------------------------------
def test_incoming_sms_webhook_is_a_full_inbound_message():
    ad, _ = adapter({})
    form = {
        "direction": "incoming",
        "id": "sf8425555e5d8db61dda7a7b3f1b91bdb",
        "from": "+46704508449",
        "to": "+46766861004",
        "created": "2018-07-13T13:57:23.741000",
        "message": "Hello how are you?",
    }
    (event,) = ad.parse_webhook("sms", hook(form))
    assert (event.type, event.event_id, event.reply) == (EventType.MESSAGE_INBOUND, None, None)
    msg = event.message
    assert (msg.remote_id, msg.kind, msg.direction, msg.status) == (
        "sf8425555e5d8db61dda7a7b3f1b91bdb",
        MessageKind.SMS,
        Direction.INBOUND,
        MessageStatus.RECEIVED,
    )
    assert msg.body == "Hello how are you?" and msg.created_at == datetime(
        2018, 7, 13, 13, 57, 23, 741000, tzinfo=UTC
    )


def test_incoming_mms_webhook_collects_every_image():
    ad, _ = adapter({})
    form = {
        "direction": "incoming",
        "id": "m1",
        "from": "+46704508449",
        "to": "+46766861004",
        "created": "2018-07-13T13:57:23.741000",
        "message": "",
        "image": "https://api.46elks.com/a1/images/m1-i0.jpg",
        "image2": "https://api.46elks.com/a1/images/m1-i1.png",
    }
    (event,) = ad.parse_webhook("mms", hook(form))
    media = event.message.media
    assert event.message.kind is MessageKind.MMS
    assert [(m.remote_id, m.content_type) for m in media] == [("m1-i0", "image/jpeg"), ("m1-i1", "image/png")]
    assert media[0].url == "https://api.46elks.com/a1/images/m1-i0.jpg"


@pytest.mark.parametrize(
    ("form", "status", "when"),
    [
        ({"id": "s1", "status": "sent"}, MessageStatus.SENT, None),
        (
            {"id": "s1", "status": "delivered", "delivered": "2018-07-13T13:57:23.741000"},
            MessageStatus.DELIVERED,
            datetime(2018, 7, 13, 13, 57, 23, 741000, tzinfo=UTC),
        ),
        (
            {"id": "123", "status": "failed", "delivered": "2018-07-13T13:57:23.741000"},
            MessageStatus.FAILED,
            None,
        ),
    ],
)
def test_delivery_report_is_a_status_update_with_an_idempotent_event_id(form, status, when):
    ad, _ = adapter({})
    (event,) = ad.parse_webhook("dlr", hook(form))
    assert event.type is EventType.MESSAGE_STATUS
    assert event.event_id == f"{form['id']}:{form['status']}"
    update = event.status_update
    assert (update.remote_id, update.status, update.raw_status, update.occurred_at) == (
        form["id"],
        status,
        form["status"],
        when,
    )


def test_incoming_call_webhook_is_a_ringing_call_and_no_reply():
    ad, _ = adapter({})
    form = {
        "direction": "incoming",
        "callid": "c1",
        "from": "+46704508449",
        "to": "+46766861004",
        "created": "2018-07-13T13:57:23.741000",
    }
    (event,) = ad.parse_webhook("voice", hook(form))
    assert (event.type, event.reply, event.event_id) == (EventType.CALL_STATUS, None, None)
    assert (event.call.remote_id, event.call.state, event.call.direction) == (
        "c1",
        CallState.RINGING,
        Direction.INBOUND,
    )


def test_newoutgoing_voice_start_is_an_answered_outbound_call():
    ad, _ = adapter({})
    form = {
        "direction": "outgoing",
        "callid": "c2",
        "from": "+46766861004",
        "to": "+46704508449",
        "result": "newoutgoing",
        "created": "2018-07-13T13:57:23.741000",
    }
    (event,) = ad.parse_webhook("voice", hook(form))
    assert (event.call.state, event.call.direction, event.call.raw_state) == (
        CallState.IN_PROGRESS,
        Direction.OUTBOUND,
        "newoutgoing",
    )


def test_an_action_result_on_the_voice_hook_is_ignored():
    ad, _ = adapter({})
    form = {
        "direction": "incoming",
        "callid": "c3",
        "from": "+46704508449",
        "to": "+46766861004",
        "result": "1234",
    }
    (event,) = ad.parse_webhook("voice", hook(form))
    assert event.type is EventType.IGNORED


def test_hangup_webhook_is_the_final_call_with_legs_and_actions_parsed():
    ad, _ = adapter({})
    form = {
        "id": "c4",
        "direction": "outgoing",
        "created": "2018-07-13T13:57:23.741000",
        "from": "+46766861004",
        "to": "+46704508449",
        "state": "success",
        "start": "2018-07-13T13:57:30.000000",
        "duration": "42",
        "cost": "1500",
        "actions": json.dumps([{"connect": "+46700000000", "result": "success"}]),
        "legs": json.dumps(
            [{"duration": 41, "from": "+46766861004", "to": "+46704508449", "state": "success"}]
        ),
    }
    (event,) = ad.parse_webhook("hangup", hook(form))
    call = event.call
    assert (event.type, call.state, call.duration, call.cost, call.currency) == (
        EventType.CALL_STATUS,
        CallState.COMPLETED,
        42,
        Decimal("0.15"),
        "SEK",
    )
    assert call.answered_at == datetime(2018, 7, 13, 13, 57, 30, tzinfo=UTC)
    assert call.ended_at == datetime(2018, 7, 13, 13, 58, 12, tzinfo=UTC)
    assert call.legs[0].duration == 41 and call.actions[0]["connect"] == "+46700000000"


def test_hangup_of_an_unanswered_call_has_no_start():
    ad, _ = adapter({})
    form = {
        "id": "c5",
        "direction": "outgoing",
        "created": "2018-07-13T13:57:23.741000",
        "from": "+46766861004",
        "to": "+46704508449",
        "state": "busy",
    }
    (event,) = ad.parse_webhook("hangup", hook(form))
    assert (event.call.state, event.call.answered_at, event.call.cost) == (CallState.BUSY, None, None)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("sms", b'{"id": "s1", "from": "+46700000000", "to": "+46700000001"}'),  # JSON, not a form
        ("sms", urlencode({"id": "s1", "from": "+46700000000"}).encode()),  # no `to`
        ("mms", urlencode({"id": "m1", "from": "a", "to": "b", "created": "garbage"}).encode()),
        ("dlr", urlencode({"status": "delivered"}).encode()),  # no id
        ("voice", urlencode({"from": "a", "to": "b"}).encode()),  # no callid
        (
            "hangup",
            urlencode(
                {
                    "id": "c",
                    "from": "a",
                    "to": "b",
                    "state": "success",
                    "created": "2018-07-13T13:57:23",
                    "legs": "[{broken",
                }
            ).encode(),
        ),
        (
            "hangup",
            urlencode(
                {
                    "id": "c",
                    "from": "a",
                    "to": "b",
                    "state": "success",
                    "created": "2018-07-13T13:57:23",
                    "duration": "long",
                }
            ).encode(),
        ),
        ("hangup", b"\xff\xfe\x00garbage"),
        ("billing", urlencode({"id": "x"}).encode()),  # not a 46elks kind
    ],
)
def test_malformed_or_forged_webhook_bodies_are_rejected(kind, body):
    ad, _ = adapter({})
    with pytest.raises(Rejected):
        ad.parse_webhook(kind, hook(body))


def test_webhooks_from_outside_the_allowed_ips_are_refused():
    conn = Connection(
        base_url=BASE, credentials=CREDS, options={"allowed_ips": ["176.10.154.199", "85.24.146.132"]}
    )
    ad = build_adapter("46elks", conn, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    ad.verify_webhook(hook({"id": "s1", "status": "sent"}, remote_addr="85.24.146.132"))
    with pytest.raises(WebhookRejected):
        ad.verify_webhook(hook({"id": "s1", "status": "sent"}, remote_addr="203.0.113.9"))


def test_without_allowed_ips_any_source_passes_verification():
    ad, _ = adapter({})
    ad.verify_webhook(hook({"id": "s1", "status": "sent"}, remote_addr="203.0.113.9"))


def test_parsing_a_webhook_never_calls_the_api():
    ad, fake = adapter({}, options={})
    ad.parse_webhook(
        "hangup",
        hook(
            {
                "id": "c",
                "direction": "incoming",
                "from": "a",
                "to": "b",
                "state": "success",
                "created": "2018-07-13T13:57:23",
                "cost": "100",
            }
        ),
    )
    assert fake.requests == []


# -- a sync's pages: the cursor from the raw answer, the records parsed later -------------------
def test_a_fetched_page_has_the_cursor_of_the_listed_page_before_it_is_parsed():
    routes = {"GET sms": EXAMPLES["sms_list"], "GET mms": {"data": []}}
    listed = adapter(routes)[0].list_page("messages", None)

    raw = adapter(routes)[0].fetch_page("messages", None)

    assert (raw.cursor, raw.done) == (listed.cursor, listed.done)
    assert raw.parse() == listed


def test_a_record_that_cannot_be_parsed_fails_its_page_when_parsed():
    rows = [dict(row) for row in EXAMPLES["sms_list"]["data"]]
    rows[0]["cost"] = "lots"
    ad, _ = adapter({"GET sms": {"data": rows}, "GET mms": {"data": []}})

    raw = ad.fetch_page("messages", None)

    with pytest.raises(Unavailable, match="Malformed response from 46elks"):
        raw.parse()
