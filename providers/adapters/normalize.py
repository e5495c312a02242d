"""Shared parsing helpers: provider units to Decimal, provider times to aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import Malformed


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with or without a zone (no zone means UTC), or 'YYYY-MM-DD HH:MM:SS' UTC.
    Returns None for empty values; raises Malformed on garbage."""
    if value in (None, "", 0):
        return None
    try:
        return _parse_time(value)
    except (TypeError, ValueError, OverflowError, OSError):
        raise Malformed(f"bad timestamp {value!r}") from None


def required_time(value: Any) -> datetime:
    """parse_time for a value that must be there: Malformed when it is absent too."""
    parsed = parse_time(value)
    if parsed is None:
        raise Malformed(f"missing timestamp {value!r}")
    return parsed


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float):
        dt = datetime.fromtimestamp(value, tz=UTC)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # +0000 → +00:00 (Sipcentric)
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]
        dt = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_naive_utc(dt: datetime, *, micro: bool = True) -> str:
    """`2017-03-14T09:52:07.302000` (46elks style)."""
    dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="microseconds" if micro else "seconds")


def to_decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Malformed(f"bad amount {value!r}") from None


def parse_int(value: Any) -> int | None:
    """An integer (or an integral decimal/float such as "12" or 12.0); None for empty values;
    raises Malformed on garbage."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
        return int(number)
    except (InvalidOperation, ValueError):
        raise Malformed(f"bad integer {value!r}") from None


def from_ten_thousandths(value: Any) -> Decimal | None:
    """46elks money: integers in 1/10000 of the currency unit (3500 → 0.35)."""
    amount = to_decimal(value)
    return None if amount is None else (amount / Decimal(10000)).quantize(Decimal("0.0001"))


def from_cents(value: Any) -> Decimal | None:
    """Cents with decimals (Callr's per-unit amounts): 12.5 → 0.125."""
    amount = to_decimal(value)
    return None if amount is None else amount / Decimal(100)
