"""46elks: reading the provider's values and records (pure functions and constants).

A value that is there but unreadable raises errors.Malformed (one policy for every adapter)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import Malformed, Rejected
from ..normalize import from_ten_thousandths, parse_time, to_decimal
from ..records import (
    CallState,
    Direction,
    MessageKind,
    MessageStatus,
    RemoteCall,
    RemoteCallLeg,
    RemoteMedia,
    RemoteMessage,
    RemoteNumber,
    RemoteRecording,
    RemoteSubaccount,
)

T = TypeVar("T")

MESSAGE_STATUS = {
    "created": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "failed": MessageStatus.FAILED,
    "received": MessageStatus.RECEIVED,
    "recieved": MessageStatus.RECEIVED,  # sic, the MMS docs spell it so
    "incoming": MessageStatus.RECEIVED,
}
CALL_STATE = {
    "ongoing": CallState.IN_PROGRESS,
    "success": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "failed": CallState.FAILED,
    # Not documented for whole calls, seen on legs/action results elsewhere.
    "noanswer": CallState.NO_ANSWER,
    "timeout": CallState.NO_ANSWER,
}
IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif"}
MESSAGE_CAP = 300  # characters of a provider error kept in Rejected.message
PAGE_LIMIT = 100  # the API's maximum
DEFAULT_LOOKBACK = timedelta(hours=48)


def _direction(value: Any) -> Direction:
    # incoming | outgoing | outgoing-reply
    return Direction.INBOUND if str(value or "").startswith("incoming") else Direction.OUTBOUND


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        raise Malformed(f"bad timestamp {value!r}") from None


def _required_time(value: Any) -> datetime:
    parsed = _time(value)
    if parsed is None:
        raise Malformed("missing timestamp")
    return parsed


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(Decimal(str(value)))
    except ArithmeticError:
        raise Malformed(f"bad integer {value!r}") from None


def _money(value: Any) -> Decimal | None:
    try:
        return from_ten_thousandths(value)
    except ValueError:
        raise Malformed(f"bad amount {value!r}") from None


def _to_ten_thousandths(amount: Any) -> int:
    """Currency units (Decimal/str/number) → 46elks integer units (0.35 → 3500)."""
    try:
        value = to_decimal(amount)
    except ValueError:
        raise Rejected(f"Not an amount: {amount!r}.") from None
    if value is None:
        raise Rejected("An amount is required.")
    return int((value * 10000).to_integral_value())


def _yes(value: Any, default: bool = True) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "true", "1")


def _json_list(value: Any) -> list[Any]:
    """Legs/actions: a list in API answers, a JSON-encoded string in whenhangup forms."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Malformed("bad JSON list") from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise Malformed("expected a list")
    return value


def _media_from_ref(ref: str, base_url: str) -> RemoteMedia:
    """An image id (`m…-i0`, from history) or an image URL (`…/images/m…-i0.jpg`, from webhooks)."""
    ref = str(ref).strip()
    if "/" in ref:
        name = urlsplit(ref).path.rsplit("/", 1)[-1]
        url = ref
    else:
        name, url = ref, f"{base_url}/images/{ref}"
    stem, _, ext = name.partition(".")
    return RemoteMedia(remote_id=stem, content_type=IMAGE_TYPES.get(ext.lower(), ""), url=url)


# -- records --------------------------------------------------------------------------------
def parse_message(
    d: dict[str, Any], currency: str, base_url: str, kind: MessageKind | None = None
) -> RemoteMessage:
    remote_id = str(d["id"])
    if kind is None:
        kind = MessageKind.MMS if remote_id.startswith("m") else MessageKind.SMS
    direction = _direction(d.get("direction"))
    raw_status = str(d.get("status") or "")
    delivered = _time(d.get("delivered"))
    if raw_status:
        status = MESSAGE_STATUS.get(raw_status.lower(), MessageStatus.UNKNOWN)
    elif direction is Direction.INBOUND:
        status = MessageStatus.RECEIVED
    else:  # older answers omit status; a delivered time still tells
        status = MessageStatus.DELIVERED if delivered else MessageStatus.UNKNOWN
    cost = _money(d.get("cost"))
    return RemoteMessage(
        remote_id=remote_id,
        kind=kind,
        direction=direction,
        from_number=str(d.get("from") or ""),
        to_number=str(d.get("to") or ""),
        body=str(d.get("message") or ""),
        status=status,
        raw_status=raw_status,
        created_at=_required_time(d.get("created")),
        delivered_at=delivered if status is MessageStatus.DELIVERED else None,
        cost=cost,
        currency=currency if cost is not None else "",
        parts=_int(d.get("parts")),
        media=[_media_from_ref(ref, base_url) for ref in d.get("images") or []],
        raw=dict(d),
    )

def parse_leg(d: dict[str, Any]) -> RemoteCallLeg:
    raw_state = str(d.get("state") or "")
    return RemoteCallLeg(
        from_number=str(d.get("from") or ""),
        to_number=str(d.get("to") or ""),
        state=CALL_STATE.get(raw_state, CallState.UNKNOWN),
        raw_state=raw_state,
        duration=_int(d.get("duration")),
        raw=dict(d),
    )

def parse_call(d: dict[str, Any], currency: str) -> RemoteCall:
    raw_state = str(d.get("state") or "")
    start = _time(d.get("start"))
    duration = _int(d.get("duration"))
    cost = _money(d.get("cost"))
    legs = [parse_leg(leg) for leg in _json_list(d.get("legs"))]
    return RemoteCall(
        remote_id=str(d.get("id") or d["callid"]),
        direction=_direction(d.get("direction")),
        from_number=str(d.get("from") or ""),
        to_number=str(d.get("to") or ""),
        state=CALL_STATE.get(raw_state, CallState.UNKNOWN),
        raw_state=raw_state,
        created_at=_required_time(d.get("created")),
        answered_at=start,
        ended_at=start + timedelta(seconds=duration) if start and duration is not None else None,
        duration=duration,
        cost=cost,
        currency=currency if cost is not None else "",
        legs=legs,
        actions=_json_list(d.get("actions")),
        raw=dict(d),
    )

def parse_recording(d: dict[str, Any]) -> RemoteRecording:
    remote_id = str(d["id"])
    call_id, sep, _ = remote_id.rpartition("-r")
    return RemoteRecording(
        remote_id=remote_id,
        call_remote_id=call_id if sep else "",
        created_at=_required_time(d.get("created")),
        duration=_int(d.get("duration")),
        raw=dict(d),
    )

def parse_number(d: dict[str, Any], currency: str) -> RemoteNumber:
    caps = d.get("capabilities") or []
    if isinstance(caps, str):
        caps = [c for c in caps.replace(" ", "").split(",") if c]
    cost = _money(d.get("cost"))
    return RemoteNumber(
        remote_id=str(d["id"]),
        number=str(d.get("number") or ""),
        country=str(d.get("country") or "").upper(),
        capabilities=[str(c).lower() for c in caps],
        category=str(d.get("category") or ""),
        active=_yes(d.get("active")),
        sms_url=str(d.get("sms_url") or ""),
        mms_url=str(d.get("mms_url") or ""),
        voice_url=str(d.get("voice_start") or ""),
        name=str(d.get("name") or ""),
        allocated_at=_time(d.get("allocated") or d.get("created")),
        expires_at=_time(d.get("expires")),
        cost=cost,
        currency=currency if cost is not None else "",
        raw=dict(d),
    )

def parse_subaccount(d: dict[str, Any], currency: str) -> RemoteSubaccount:
    remote_id = str(d["id"])
    secret = d.get("secret")
    usage = d.get("balanceused", d.get("usage"))
    return RemoteSubaccount(
        remote_id=remote_id,
        name=str(d.get("name") or ""),
        active=_yes(d.get("active")),
        usage=_money(usage),
        usage_limit=_money(d.get("usagelimit")),
        currency=currency,
        created_at=_time(d.get("created")),
        credentials={"username": remote_id, "password": str(secret)} if secret else None,
        # The secret is a credential: keep it out of the raw copy that may be stored.
        raw={k: v for k, v in d.items() if k != "secret"},
    )

# -- account ----------------------------------------------------------------------------------
