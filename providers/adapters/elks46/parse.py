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
    MessageStatus,
    RemoteMedia,
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



