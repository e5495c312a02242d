"""Callr: reading the provider's values and records (pure functions and constants).

A value that is there but unreadable raises errors.Malformed (one policy for every adapter)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any

from ..errors import Rejected, Unavailable
from ..normalize import from_cents, parse_int, parse_time
from ..records import (
    CallState,
    Direction,
    MessageKind,
    MessageStatus,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteSubaccount,
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


# -- records --------------------------------------------------------------------------------
def parse_sms(raw: Any, currency: str, *, inbound: bool | None = None) -> RemoteMessage:
    if not isinstance(raw, dict):
        raise Rejected("Callr SMS is not an object.")
    raw_status = str(raw.get("status") or "")
    is_in = inbound if inbound is not None else str(raw.get("type") or "").upper() == "IN"
    status = SMS_STATUS.get(raw_status.upper(), MessageStatus.UNKNOWN)
    if is_in and not raw_status:
        status = MessageStatus.RECEIVED
    created = _time(raw.get("date_creation")) or _time(raw.get("date_received"))
    updated = _time(raw.get("date_update"))
    if created is None:
        raise Rejected("Callr SMS has no date.")
    parts = _int(raw.get("parts"))
    return RemoteMessage(
        remote_id=str(raw.get("hash") or ""),
        kind=MessageKind.SMS,
        direction=Direction.INBOUND if is_in else Direction.OUTBOUND,
        from_number=str(raw.get("from") or ""),
        to_number=str(raw.get("to") or ""),
        body=str(raw.get("text") or ""),
        status=status,
        raw_status=raw_status,
        created_at=created,
        sent_at=_time(raw.get("date_sent")),
        delivered_at=_time(raw.get("date_received"))
        if is_in
        else (updated if status == MessageStatus.DELIVERED else None),
        cost=from_cents(raw.get("b_customer_debit")),  # cents with 2 decimals
        currency=currency if raw.get("b_customer_debit") not in (None, "") else "",
        parts=parts or None,
        encoding=str(raw.get("encoding") or ""),
        error=str(raw.get("status_error") or ""),
        raw=dict(raw),
    )

def parse_cdr(raw: Any, direction: Direction, *, live: bool = False) -> RemoteCall:
    if not isinstance(raw, dict):
        raise Rejected("Callr CDR is not an object.")
    start = _time(raw.get("start"))
    if start is None:
        raise Rejected("Callr CDR has no start time.")
    answer, hangup = _time(raw.get("answer")), _time(raw.get("hangup"))
    dialstatus = str(raw.get("dialstatus") or "")
    source = str(raw.get("hangupsource") or "")
    if live and hangup is None:  # a *_start webhook: the call is still up
        state, raw_state = (CallState.IN_PROGRESS if answer else CallState.RINGING), "START"
    elif dialstatus:
        state, raw_state = DIAL_STATUS.get(dialstatus.upper(), CallState.UNKNOWN), dialstatus
    else:
        raw_state = source
        if answer is not None or (_int(raw.get("duration_answered")) or 0) > 0:
            state = CallState.COMPLETED
        elif source == "CALLER":
            state = CallState.CANCELED  # the caller gave up before anyone answered
        elif source == "GATEWAY":
            state = CallState.FAILED
        elif source == "CALLEE":
            state = CallState.NO_ANSWER
        else:
            state = CallState.UNKNOWN
    inbound = direction == Direction.INBOUND
    debit = raw.get("billing_customer_debit_eur")
    return RemoteCall(
        remote_id="" if raw.get("callid") is None else str(raw["callid"]),
        direction=direction,
        from_number=str(raw.get("cli_number") or ""),
        to_number=str(raw.get("did_intl_number" if inbound else "number") or ""),
        state=state,
        raw_state=raw_state,
        created_at=start,
        answered_at=answer,
        ended_at=hangup,
        duration=_int(raw.get("duration")),
        cost=from_cents(debit),  # "Call debit (cents)", in EUR
        currency="EUR" if debit not in (None, "") else "",
        raw=dict(raw),
    )

def parse_did(raw: dict[str, Any]) -> RemoteNumber:
    kind = str(raw.get("type") or "").upper()
    capabilities = ["sms"] if kind == "SMS-ONLY" else ["sms", "voice"] if kind == "MOBILE" else ["voice"]
    return RemoteNumber(
        remote_id=str(raw.get("hash") or ""),
        number=str(raw.get("intl_number") or ""),
        country=str(raw.get("country_code") or ""),
        capabilities=capabilities,
        category=kind.lower(),
        name=str(raw.get("local_number_f") or raw.get("local_number") or ""),
        raw=dict(raw),
    )

def parse_subaccount(raw: Any) -> RemoteSubaccount:
    if not isinstance(raw, dict):
        raise Unavailable("Callr sent a malformed sub-account.", request_sent=True)
    account = raw.get("account") or {}
    credentials = raw.get("credentials") or {}
    state = raw.get("state") or {}
    person = " ".join(p for p in (account.get("firstname"), account.get("lastname")) if p)
    name = account.get("company") or person or credentials.get("login") or str(raw.get("hash") or "")
    secret = None
    if credentials.get("login") and credentials.get("password"):  # only on create
        secret = {"login": str(credentials["login"]), "password": str(credentials["password"])}
    return RemoteSubaccount(
        remote_id=str(raw.get("hash") or ""),
        name=str(name),
        active=not state.get("disabled") and not state.get("archived"),
        currency=str(((raw.get("params") or {}).get("billing") or {}).get("currency_code") or ""),
        credentials=secret,
        raw={k: v for k, v in raw.items() if k != "credentials"}
        | {"credit": str(from_cents(state.get("credit")) or "")},
    )
