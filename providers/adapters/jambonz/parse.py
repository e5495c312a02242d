"""jambonz: reading the provider's values and records (pure functions and constants).

A value that is there but unreadable raises errors.Malformed (one policy for every adapter)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import phonenumbers

from ..errors import Malformed
from ..normalize import parse_int, parse_time
from ..records import (
    CallState,
    MessageStatus,
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



