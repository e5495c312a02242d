"""Sipcentric: reading the provider's values and records (pure functions and constants).

A value that is there but unreadable raises errors.Malformed (one policy for every adapter)."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers

from ..normalize import parse_int, parse_time, required_time, to_decimal
from ..records import (
    CallState,
    Direction,
    MessageKind,
    MessageStatus,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteRecording,
    RemoteSubaccount,
)

CURRENCY = "GBP"
MAX_PAGE_SIZE = 200
# How far before the newest item already seen an incremental sync re-reads, to catch
# late delivery-status changes and records that were written late.
LOOKBACK = timedelta(hours=48)
CURSOR_VERSION = 1

# deliveryStatus bit values (v1 docs).
DS_DELIVERED = 1
DS_REJECTED_HANDSET = 2
DS_BUFFERED = 4
DS_ACCEPTED_CARRIER = 8
DS_REJECTED_CARRIER = 16

CALL_OUTCOMES = {
    "ANSWERED": CallState.COMPLETED,
    "NO_ANSWER": CallState.NO_ANSWER,
    "BUSY": CallState.BUSY,
    "FAILED": CallState.FAILED,
}


# -- small parsing helpers -------------------------------------------------------------------
def _word(value: Any) -> str:
    """v1 docs mix `OUT`/`out` and `NO_ANSWER`/`no-answer`: compare one canonical form."""
    return str(value or "").strip().upper().replace("-", "_")


def to_e164(value: Any) -> str:
    """A Sipcentric number (UK national, `0044…`, `44…` or E.164) as E.164. Names
    ("Sales Group <500>"), extensions and anything unparseable are returned unchanged."""
    return _text_to_e164(str(value or "").strip())


@functools.lru_cache(maxsize=8192)
def _text_to_e164(text: str) -> str:
    # Cached: a history names the same few numbers over and over (ours, regular contacts),
    # and parsing one was a quarter of a Sipcentric sync worker's CPU.
    if not text or re.search(r"[A-Za-z<>@]", text):
        return text
    digits = re.sub(r"[\s().-]", "", text)
    candidates = [digits]
    if digits.isdigit() and digits.startswith("44") and not digits.startswith("0"):
        candidates.insert(0, "+" + digits)  # "447902000000": international without the plus
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, "GB")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text


def to_wire_number(value: str) -> str:
    """What the API expects: UK national digits for GB numbers ("07902000000"), the UK
    international prefix for others ("0046701234567"); names pass through unchanged."""
    text = (value or "").strip()
    if not text or re.search(r"[A-Za-z]", text):
        return text
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    if number.country_code == 44:
        return re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    return f"00{number.country_code}{phonenumbers.national_significant_number(number)}"


def _id_from_uri(uri: Any) -> str:
    tail = str(uri or "").rstrip("/").rsplit("/", 1)[-1]
    return tail.split("?", 1)[0].removesuffix(".json")


def _item_id(item: dict[str, Any]) -> str:
    return str(item.get("id") or _id_from_uri(item.get("uri")))


# Unreadable values raise Malformed (errors.py: the one parse-failure policy).
_time = parse_time
_money = to_decimal
_int = parse_int


def _fmt_filter_time(dt: datetime) -> str:
    """ISO 8601 with milliseconds and `Z` (a `+0000` would need escaping in a query)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def message_status(item: dict[str, Any]) -> tuple[MessageStatus, str]:
    """(normalized status, raw status) for an smsmessage."""
    direction = _word(item.get("direction"))
    send = _word(item.get("sendStatus"))
    delivery = _int(item.get("deliveryStatus")) or 0
    raw = f"{send or '-'}/{delivery}"
    if direction == "IN":
        return MessageStatus.RECEIVED, raw
    if send == "FAILED" or delivery & (DS_REJECTED_HANDSET | DS_REJECTED_CARRIER):
        return MessageStatus.FAILED, raw
    if delivery & DS_DELIVERED:
        return MessageStatus.DELIVERED, raw
    if send == "PENDING":
        return MessageStatus.SENDING, raw
    if send == "SENT":  # accepted by carrier (8), buffered (4) or no report yet (0)
        return MessageStatus.SENT, raw
    return MessageStatus.UNKNOWN, raw


def parse_message(item: dict[str, Any], fallback_time: datetime | None = None) -> RemoteMessage:
    status, raw_status = message_status(item)
    inbound = _word(item.get("direction")) == "IN"
    created = _time(item.get("created")) or fallback_time or datetime.now(UTC)
    error = ""
    delivery = _int(item.get("deliveryStatus")) or 0
    if status is MessageStatus.FAILED:
        if delivery & DS_REJECTED_CARRIER:
            error = "Rejected by carrier."
        elif delivery & DS_REJECTED_HANDSET:
            error = "Rejected by handset."
        else:
            error = "Sending failed."
    cost = _money(item.get("cost"))
    return RemoteMessage(
        remote_id=_item_id(item),
        kind=MessageKind.SMS,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        from_number=to_e164(item.get("from")),
        to_number=to_e164(item.get("to")),
        body=str(item.get("body") or ""),
        status=status,
        raw_status=raw_status,
        created_at=created,
        cost=cost,
        currency=CURRENCY if cost is not None else "",
        error=error,
        raw=item,
    )


def parse_call(item: dict[str, Any]) -> RemoteCall:
    outcome = _word(item.get("outcome"))
    created = _time(item.get("created"))
    started = _time(item.get("callStarted"))
    duration = _int(item.get("duration"))
    state = CALL_OUTCOMES.get(outcome, CallState.UNKNOWN)
    ended = started + timedelta(seconds=duration) if started and duration is not None else None
    cost = _money(item.get("cost"))
    return RemoteCall(
        # Recordings point at calls by the PBX `callId`, not by the REST id, so the call is
        # keyed by callId (the REST id stays in raw["uri"]).
        remote_id=str(item.get("callId") or _item_id(item)),
        direction=Direction.INBOUND if _word(item.get("direction")) == "IN" else Direction.OUTBOUND,
        from_number=to_e164(item.get("from")),
        to_number=to_e164(item.get("to")),
        state=state,
        raw_state=str(item.get("outcome") or ""),
        created_at=started or created or datetime.now(UTC),
        answered_at=started if state is CallState.COMPLETED else None,
        ended_at=ended if state is CallState.COMPLETED else None,
        duration=duration,
        cost=cost,
        currency=CURRENCY if cost is not None else "",
        raw=item,
    )


def parse_recording(item: dict[str, Any]) -> RemoteRecording:
    return RemoteRecording(
        remote_id=_item_id(item),
        call_remote_id=str(item.get("callId") or item.get("linkedId") or ""),
        created_at=_time(item.get("started")) or _time(item.get("created")) or datetime.now(UTC),
        duration=None,  # not in the API; only the size is
        size=_int(item.get("size")),
        content_type="audio/wav",
        raw=item,
    )


def parse_number(item: dict[str, Any]) -> RemoteNumber:
    e164 = to_e164(item.get("number"))
    category = ""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        category = {
            phonenumbers.PhoneNumberType.MOBILE: "mobile",
            phonenumbers.PhoneNumberType.FIXED_LINE: "fixed",
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed",
            phonenumbers.PhoneNumberType.VOIP: "voip",
            phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
        }.get(kind, "")
    except phonenumbers.NumberParseException:
        pass
    sms = bool(item.get("smsEnabled") or item.get("smsCapable"))  # docs vs client fixtures
    return RemoteNumber(
        remote_id=_item_id(item),
        number=e164,
        country="GB" if e164.startswith("+44") else "",
        capabilities=["voice", "sms"] if sms else ["voice"],
        category=category,
        active=True,
        sms_url=str(item.get("smsNotificationUrl") or ""),
        name=str(item.get("identifier") or ""),
        allocated_at=_time(item.get("created")),
        raw=item,
    )


def parse_customer(item: dict[str, Any]) -> RemoteSubaccount:
    name = item.get("company") or " ".join(p for p in (item.get("firstName"), item.get("lastName")) if p)
    return RemoteSubaccount(
        remote_id=_item_id(item),
        name=str(name or ""),
        currency=CURRENCY,
        created_at=_time(item.get("created")),
        raw=item,
    )


def error_message(body: Any) -> str:
    """A readable message from `{"errors": [...]}` / `{"validationErrors": [...]}` (the
    inner shape is undocumented: accept strings, `{message}`, `{field, message}`)."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for key in ("validationErrors", "errors"):
        value = body.get(key)
        if isinstance(value, dict):
            value = [{"field": k, "message": v} for k, v in value.items()]
        elif isinstance(value, str):
            value = [value]
        for err in value or []:
            if isinstance(err, dict):
                field = err.get("field") or err.get("property") or ""
                text = err.get("message") or err.get("description") or err.get("code") or ""
                if isinstance(text, list):
                    text = ", ".join(map(str, text))
                parts.append(f"{field}: {text}" if field and text else str(text or field))
            elif err:
                parts.append(str(err))
    if not parts:
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                parts.append(body[key])
                break
    return "; ".join(p for p in parts if p)


# -- cursors ----------------------------------------------------------------------------
def _encode_cursor(data: dict[str, Any]) -> str:
    return json.dumps({"v": CURSOR_VERSION, **data}, separators=(",", ":"), sort_keys=True)


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        raise ValueError("Not a Sipcentric history cursor.") from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise ValueError("Not a Sipcentric history cursor.")
    return data


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two ISO times (either may be None)."""
    if not a or not b:
        return a or b
    return a if required_time(a) >= required_time(b) else b



