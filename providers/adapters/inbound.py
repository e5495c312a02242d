"""Checks on what a webhook parser returns, applied to every adapter's `parse_webhook`
(wrapped by `Adapter.__init_subclass__`), so neither the webhook view nor the worker that
applies a stored event can meet hostile input the database refuses or the UI should not show:

- a body over `Adapter.max_webhook_body` bytes, JSON nested past `MAX_JSON_DEPTH`, and a
  parser tripping over an unexpected shape are `Rejected` (a clear, stored error; never a 500);
- NUL and other control characters are removed from every text (Postgres refuses NUL in
  text and JSONB), free text is capped at the column's size, and `raw` payloads are
  cleaned and bounded;
- phone numbers and sender ids must look like one (digits with an optional +, an
  alphanumeric sender id, a SIP user): markup such as `<b>…</b>` is `Rejected`;
- ids longer than their column are `Rejected` (cutting them could merge two records).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from core.safejson import MAX_JSON_DEPTH

from .errors import Rejected
from .records import InboundEvent, MessageStatusUpdate, RemoteCall, RemoteCallLeg, RemoteMedia, RemoteMessage

MAX_WEBHOOK_BODY = 256 * 1024  # bytes; a real provider's webhook is a few KiB
MAX_RAW_BYTES = 64 * 1024  # a `raw` copy larger than this is replaced by a note
MAX_BODY_CHARS = 10_000  # message text (an SMS is at most a few thousand characters)
MAX_ERROR_CHARS = 1_000

# Text columns' sizes (messaging/calls models): longer free text is cut, longer ids refused.
TEXT_CAPS: dict[type, dict[str, int]] = {
    RemoteMessage: {"body": MAX_BODY_CHARS, "raw_status": 64, "error": MAX_ERROR_CHARS, "encoding": 8},
    MessageStatusUpdate: {"raw_status": 64, "error": MAX_ERROR_CHARS},
    RemoteCall: {"raw_state": 32},
    RemoteCallLeg: {"raw_state": 32},
    RemoteMedia: {"content_type": 100, "digest": 64, "url": 2_000},
}
ID_CAPS: dict[type, dict[str, int]] = {
    RemoteMessage: {"remote_id": 128, "subaccount_remote_id": 64},
    MessageStatusUpdate: {"remote_id": 128},
    RemoteCall: {"remote_id": 64, "subaccount_remote_id": 64},
    RemoteCallLeg: {"remote_id": 64},
    RemoteMedia: {"remote_id": 128},
}
ADDRESS_FIELDS = ("from_number", "to_number")
MAX_ADDRESS = 32
# E.164 or short codes, alphanumeric sender ids ("Acme Ltd"), SIP users and URIs.
ADDRESS = re.compile(r"[A-Za-z0-9+ ._@:;=*#&'!-]*")
CURRENCY = re.compile(r"[A-Z]{3}")
# C0 controls except tab, newline and carriage return, plus DEL.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str, cap: int | None = None) -> str:
    text = CONTROL.sub("", value)
    return text[:cap] if cap is not None else text


def clean_raw(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy: no control characters in keys or strings, at most MAX_JSON_DEPTH deep."""
    if depth > MAX_JSON_DEPTH:
        return "…"
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_raw(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_raw(v, depth + 1) for v in value]
    return value


def bounded_raw(raw: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = clean_raw(raw)
    size = len(json.dumps(cleaned, default=str))
    if size > MAX_RAW_BYTES:
        return {"_truncated": True, "_size": size}
    return cleaned


def check_address(value: str, what: str, *, cut: bool = False) -> str:
    """A number, sender id or SIP user as stored; Rejected when it is anything else.
    `cut`: a longer one (a SIP URI on a call) is shortened to the column instead."""
    text = clean_text(value).strip()
    if cut:
        text = text[:MAX_ADDRESS]
    if len(text) > MAX_ADDRESS or not ADDRESS.fullmatch(text):
        raise Rejected(f"The webhook's {what} is not a phone number or sender id.")
    return text


def check_record(record: Any) -> None:
    """Clean one parsed record (and its nested media/legs) in place; Rejected if unusable."""
    cls = type(record)
    text_caps = TEXT_CAPS.get(cls, {})
    id_caps = ID_CAPS.get(cls, {})
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name == "raw" and isinstance(value, dict):
            setattr(record, f.name, bounded_raw(value))
        elif f.name in ADDRESS_FIELDS and isinstance(value, str):
            cut = cls in (RemoteCall, RemoteCallLeg)  # calls may come from SIP URIs
            setattr(record, f.name, check_address(value, f.name.replace("_", " "), cut=cut))
        elif f.name in id_caps and isinstance(value, str):
            value = clean_text(value)
            if len(value) > id_caps[f.name]:
                raise Rejected(f"The webhook's {f.name} is longer than {id_caps[f.name]} characters.")
            setattr(record, f.name, value)
        elif f.name == "currency" and isinstance(value, str):
            value = clean_text(value).strip().upper()
            setattr(record, f.name, value if CURRENCY.fullmatch(value) else "")
        elif isinstance(value, str) and not isinstance(value, Enum):
            setattr(record, f.name, clean_text(value, text_caps.get(f.name, MAX_ERROR_CHARS)))
        elif isinstance(value, list):
            for item in value:
                if is_dataclass(item):
                    check_record(item)


def check_events(events: list[InboundEvent]) -> list[InboundEvent]:
    for event in events:
        if event.event_id is not None:
            event.event_id = clean_text(str(event.event_id))
        for record in (event.message, event.status_update, event.call):
            if record is not None:
                check_record(record)
        event.raw = bounded_raw(event.raw) if isinstance(event.raw, dict) else {}
    return events


def checked_parse(
    parse: Callable[[], list[InboundEvent]], body: bytes, max_body: int, provider: str
) -> list[InboundEvent]:
    """Run a parser under the rules above."""
    if len(body) > max_body:
        raise Rejected(f"{provider} webhook body is larger than {max_body // 1024} KiB.")
    try:
        events = parse()
    except Rejected:
        raise
    except RecursionError:
        raise Rejected(f"{provider} webhook is nested too deeply.") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, UnicodeError) as exc:
        raise Rejected(f"Malformed {provider} webhook ({type(exc).__name__}).") from None
    return check_events(events)
