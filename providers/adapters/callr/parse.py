"""Callr: reading the provider's values and records (pure functions and constants).

A value that is there but unreadable raises errors.Malformed (one policy for every adapter)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any

from ..normalize import parse_int, parse_time
from ..records import (
    CallState,
    MessageStatus,
)

SMS_STATUS = {
    "CREATED": MessageStatus.QUEUED,
    "PENDING": MessageStatus.SENDING,
    "REMOTE_QUEUED": MessageStatus.SENDING,  # handed to the carrier, not yet on the handset
    "SENT": MessageStatus.SENT,
    "DELIVERED": MessageStatus.DELIVERED,  # [I] in v1, documented in v2
    "ERROR": MessageStatus.FAILED,
    "FAILED": MessageStatus.FAILED,
    "EXPIRED": MessageStatus.FAILED,
    "RECEIVED": MessageStatus.RECEIVED,
}

DIAL_STATUS = {
    "ANSWER": CallState.COMPLETED,
    "BUSY": CallState.BUSY,
    "NOANSWER": CallState.NO_ANSWER,
    "CANCEL": CallState.CANCELED,
    "CONGESTION": CallState.FAILED,
    "CHANUNAVAIL": CallState.FAILED,
    "NODIAL": CallState.FAILED,
}

# JSON-RPC 2.0 reserved codes, then Callr's own (PROVIDER_NOTES §3.2).
RPC_PARSE_ERROR = -32700
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_INVALID_PARAMS = -32602
RPC_INTERNAL_ERROR = -32603
AUTH_CODES = {401, 403}
# No rate-limit code is documented; recognise the obvious words rather than a guessed number.
RATE_WORDS = re.compile(r"RATE.?LIMIT|TOO.?MANY|THROTTL|(API|REQUEST).?QUOTA", re.IGNORECASE)
AUTH_WORDS = re.compile(r"AUTH(ENTICATION)?.?(FAILED|REQUIRED|INVALID)|INVALID.?(CREDENTIALS|API.?KEY)", re.I)
UNAVAILABLE_WORDS = re.compile(r"INTERNAL|UNAVAILABLE|TEMPORAR|TIMEOUT", re.IGNORECASE)

CALLR_TIME = "%Y-%m-%d %H:%M:%S"
HMAC_ALGOS = {"SHA256": hashlib.sha256, "SHA1": hashlib.sha1, "SHA512": hashlib.sha512, "MD5": hashlib.md5}


def _time(value: Any) -> datetime | None:
    """Callr's `YYYY-MM-DD HH:MM:SS` (UTC), where an unset date may be all zeros."""
    if isinstance(value, str) and value.startswith("0000-00-00"):
        return None
    return parse_time(value)


def _fmt(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime(CALLR_TIME)


_int = parse_int  # unreadable values raise Malformed (errors.py: the one parse-failure policy)


def sign(secret: str, body: bytes, algo: str = "SHA256") -> str:
    """X-CALLR-HmacSignature for `body` (the simulator and tests use it)."""
    return base64.b64encode(hmac.new(secret.encode(), body, HMAC_ALGOS[algo.upper()]).digest()).decode()

