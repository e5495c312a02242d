"""jambonz: reading the provider's values and records (pure functions and constants).

A value that is there but unreadable raises errors.Malformed (one policy for every adapter)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers

from ..errors import Malformed, Rejected, Unavailable
from ..normalize import parse_int, parse_time
from ..records import (
    CallState,
    Direction,
    MessageStatus,
    RemoteCall,
    RemoteNumber,
    RemoteSubaccount,
)

# jambonz call_status → normalized state. "trying" means the INVITE left but nothing rang yet.
CALL_STATES: dict[str, CallState] = {
    "queued": CallState.QUEUED,
    "trying": CallState.QUEUED,
    "ringing": CallState.RINGING,
    "alerting": CallState.RINGING,  # only in the swagger's Call enum
    "early-media": CallState.RINGING,
    "in-progress": CallState.IN_PROGRESS,
    "completed": CallState.COMPLETED,
    "failed": CallState.FAILED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
}
FINAL_CALL_STATES = {CallState.COMPLETED, CallState.FAILED, CallState.BUSY, CallState.NO_ANSWER}

# CDRs carry no call_status: the outcome of an unanswered call is in its final SIP status.
SIP_BUSY = {486, 600, 603}
SIP_NO_ANSWER = {408, 480, 487}  # 487: jambonz CANCELs an outbound INVITE on its timeout

# message verb actionHook statuses (the REST create has no delivery reports).
MESSAGE_STATUSES: dict[str, MessageStatus] = {
    "success": MessageStatus.SENT,
    "failure": MessageStatus.FAILED,
    "no carriers": MessageStatus.FAILED,
    "smpp configuration error": MessageStatus.FAILED,
    "system error": MessageStatus.FAILED,
}

SPEECH_DEFAULTS = {
    "speech_synthesis_vendor": "google",
    "speech_synthesis_language": "en-US",
    "speech_synthesis_voice": "en-US-Standard-C",
    "speech_recognizer_vendor": "google",
    "speech_recognizer_language": "en-US",
}
ACTION_TAG = "switchboard_action"  # where place_call parks the action; echoed as customerData
_SECRET_KEY = re.compile(r"secret|password|token", re.IGNORECASE)


def _utc_iso(dt: datetime) -> str:
    # Milliseconds, so a window ending "now" does not cut off the current second.
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(value: Any) -> datetime | None:
    """RFC 3339 strings (what the code returns) or epoch numbers (what the swagger says);
    epoch values past ~1973 in milliseconds are told apart by size."""
    if isinstance(value, bool) or value in (None, "", 0):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise Malformed(f"bad timestamp {value!r}") from None
    return parse_time(value)


_int = parse_int  # unreadable values raise Malformed (errors.py: the one parse-failure policy)


def e164(value: Any) -> str:
    """jambonz strips the leading '+' from stored numbers and SIP user parts; put it back
    on anything that is all digits. SIP URIs and user names pass through unchanged."""
    text = str(value or "").strip()
    digits = text[1:] if text.startswith("+") else text
    if digits.isdigit() and 6 <= len(digits) <= 15:
        return "+" + digits
    return text


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except Exception:  # unparsable or not a phone number
        return ""


def _scrub(data: dict[str, Any]) -> dict[str, Any]:
    """Drop secrets (webhook_secret, hook passwords) before a payload is stored as raw."""
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if _SECRET_KEY.search(str(key)):
            continue
        clean[key] = _scrub(value) if isinstance(value, dict) else value
    return clean


def _hook_url(hook: Any) -> str:
    if isinstance(hook, dict):
        return str(hook.get("url") or "")
    return str(hook or "")


def verbs_for_action(action: dict[str, Any]) -> list[dict[str, Any]]:
    """Our CallRequest.action as jambonz verbs, for the call_hook reply."""
    verbs: list[dict[str, Any]] = []
    if action.get("say"):
        verbs.append({"verb": "say", "text": str(action["say"])})
    if action.get("play"):
        verbs.append({"verb": "play", "url": str(action["play"])})
    if action.get("connect"):
        target = e164(action["connect"])
        if target.startswith("sip:"):
            verbs.append({"verb": "dial", "target": [{"type": "sip", "sipUri": target}]})
        else:
            verbs.append({"verb": "dial", "target": [{"type": "phone", "number": target}]})
    if verbs and not action.get("connect"):
        verbs.append({"verb": "hangup"})
    return verbs


# -- records --------------------------------------------------------------------------------
def parse_cdr(row: dict[str, Any]) -> RemoteCall:
    try:
        attempted = _time(row.get("attempted_at") or row.get("time"))
        answered_at = _time(row.get("answered_at"))
        ended_at = _time(row.get("terminated_at"))
    except (TypeError, ValueError):
        raise Unavailable("jambonz sent a malformed call record.") from None
    if not row.get("call_sid") or attempted is None:
        raise Unavailable("jambonz sent a malformed call record.")
    sip_status = _int(row.get("sip_status"))
    answered = row.get("answered") in (True, 1, "true", "1")
    if row.get("call_status"):
        raw_state = str(row["call_status"])
        state = CALL_STATES.get(raw_state, CallState.UNKNOWN)
    elif answered:
        raw_state, state = "completed", CallState.COMPLETED
    elif sip_status in SIP_BUSY:
        raw_state, state = "busy", CallState.BUSY
    elif sip_status in SIP_NO_ANSWER:
        raw_state, state = "no-answer", CallState.NO_ANSWER
    elif sip_status is not None and sip_status >= 400:
        raw_state, state = "failed", CallState.FAILED
    else:
        raw_state, state = str(sip_status or ""), CallState.UNKNOWN
    return RemoteCall(
        remote_id=str(row["call_sid"]),
        direction=Direction.OUTBOUND if row.get("direction") == "outbound" else Direction.INBOUND,
        from_number=e164(row.get("from")),
        to_number=e164(row.get("to")),
        state=state,
        raw_state=raw_state,
        created_at=attempted,
        answered_at=answered_at if answered else None,
        ended_at=ended_at,
        duration=_int(row.get("duration")) if answered else 0,
        cost=None,
        currency="",
        raw=_scrub(row),
    )


def parse_live_call(data: dict[str, Any], *, occurred_at: datetime) -> RemoteCall:
    """A live Call object or a call hook payload. These carry no timestamps, so the
    event time (the signature's `t`, or now) stands in."""
    if not data.get("call_sid"):
        raise Rejected("jambonz call payload without call_sid.")
    raw_state = str(data.get("call_status") or "")
    state = CALL_STATES.get(raw_state, CallState.UNKNOWN)
    duration = _int(data.get("duration"))
    created = _time(data.get("attempted_at") or data.get("timestamp")) or occurred_at
    answered_at = _time(data.get("answered_at"))
    ended_at = _time(data.get("terminated_at"))
    if state == CallState.IN_PROGRESS and answered_at is None:
        answered_at = occurred_at
    if state in FINAL_CALL_STATES and ended_at is None:
        ended_at = occurred_at
    if state == CallState.COMPLETED and duration is not None:
        answered_at = answered_at or occurred_at - timedelta(seconds=duration)
    return RemoteCall(
        remote_id=str(data["call_sid"]),
        direction=Direction.OUTBOUND if data.get("direction") == "outbound" else Direction.INBOUND,
        from_number=e164(data.get("from")),
        to_number=e164(data.get("to")),
        state=state,
        raw_state=raw_state,
        created_at=created,
        answered_at=answered_at,
        ended_at=ended_at,
        duration=duration,
        raw=_scrub(data),
    )


def parse_number(row: dict[str, Any]) -> RemoteNumber:
    number = e164(row.get("number"))
    return RemoteNumber(
        remote_id=str(row.get("phone_number_sid") or number),
        number=number,
        country=_country(number),
        capabilities=["voice", "sms"],
        category="voip",
        active=True,
        name="",
        raw=_scrub(row),
    )


def parse_subaccount(row: dict[str, Any]) -> RemoteSubaccount:
    active = row.get("is_active")
    return RemoteSubaccount(
        remote_id=str(row.get("account_sid")),
        name=str(row.get("name") or ""),
        active=True if active is None else bool(int(active)) if str(active).isdigit() else bool(active),
        created_at=_time(row.get("created_at")),
        raw=_scrub(row),
    )
