"""Plain dataclasses adapters return. Money is Decimal + ISO currency; time is aware UTC.

Normalized vocabularies live here so every adapter maps its provider's words onto them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from core.safejson import loads_bounded


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageKind(StrEnum):
    SMS = "sms"
    MMS = "mms"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    RECEIVED = "received"
    UNKNOWN = "unknown"


class CallState(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class Capability(StrEnum):
    SEND_SMS = "send_sms"
    SEND_MMS = "send_mms"
    DRY_RUN = "dry_run"
    PLACE_CALL = "place_call"
    MESSAGES = "messages"  # message history
    CALLS = "calls"  # call history
    RECORDINGS = "recordings"
    NUMBERS = "numbers"
    ALLOCATE_NUMBER = "allocate_number"
    CONFIGURE_NUMBER = "configure_number"
    RELEASE_NUMBER = "release_number"
    SUBACCOUNTS = "subaccounts"
    CREATE_SUBACCOUNT = "create_subaccount"
    UPDATE_SUBACCOUNT = "update_subaccount"
    BALANCE = "balance"
    WEBHOOKS = "webhooks"


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of history. `cursor` resumes after this page (store it); when `done` is
    True the history is caught up and `cursor` is where the next sync starts."""

    items: list[T]
    cursor: str | None
    done: bool


@dataclass
class RawPage(Generic[T]):
    """A page as fetched, its records not parsed yet. `cursor` and `done` are read from the
    answer alone, so a sync can request the next page while another thread runs `parse()`
    (the provider works on page N+1 while we parse page N)."""

    rows: list[Any]
    parse_rows: Callable[[list[Any]], list[T]]
    cursor: str | None
    done: bool

    @classmethod
    def parsed(cls, page: Page[T]) -> RawPage[T]:
        return cls(page.items, _as_is, page.cursor, page.done)

    def parse(self) -> Page[T]:
        return Page(self.parse_rows(self.rows), self.cursor, self.done)


def _as_is(rows: list[Any]) -> list[Any]:
    return rows


@dataclass
class RemoteMedia:
    remote_id: str
    content_type: str = ""
    size: int | None = None
    digest: str = ""
    url: str = ""  # where the bytes can be fetched (through the adapter)


@dataclass
class RemoteMessage:
    remote_id: str
    kind: MessageKind
    direction: Direction
    from_number: str
    to_number: str
    body: str
    status: MessageStatus
    raw_status: str
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    cost: Decimal | None = None
    currency: str = ""
    parts: int | None = None
    encoding: str = ""
    error: str = ""
    media: list[RemoteMedia] = field(default_factory=list)
    subaccount_remote_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteCallLeg:
    from_number: str
    to_number: str
    state: CallState
    raw_state: str = ""
    duration: int | None = None
    remote_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteCall:
    remote_id: str
    direction: Direction
    from_number: str
    to_number: str
    state: CallState
    raw_state: str
    created_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: int | None = None  # seconds
    cost: Decimal | None = None
    currency: str = ""
    legs: list[RemoteCallLeg] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)
    subaccount_remote_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteRecording:
    remote_id: str
    call_remote_id: str
    created_at: datetime
    duration: int | None = None
    size: int | None = None
    content_type: str = "audio/wav"
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteNumber:
    remote_id: str
    number: str  # E.164
    country: str = ""  # ISO-2
    capabilities: list[str] = field(default_factory=list)  # sms, mms, voice
    category: str = ""  # mobile, fixed, voip …
    active: bool = True
    sms_url: str = ""
    mms_url: str = ""
    voice_url: str = ""
    name: str = ""
    allocated_at: datetime | None = None
    expires_at: datetime | None = None
    cost: Decimal | None = None  # monthly
    currency: str = ""
    subaccount_remote_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteSubaccount:
    remote_id: str
    name: str
    active: bool = True
    usage: Decimal | None = None
    usage_limit: Decimal | None = None
    currency: str = ""
    created_at: datetime | None = None
    credentials: dict[str, str] | None = None  # e.g. 46elks id/secret; never logged
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccountBalance:
    amount: Decimal
    currency: str
    credit_alert: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccountInfo:
    remote_id: str
    name: str = ""
    currency: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class SmsRequest:
    from_number: str  # E.164 number or alphanumeric sender id
    to_number: str  # E.164
    body: str
    status_url: str = ""  # where delivery reports go
    media_urls: list[str] = field(default_factory=list)  # MMS images (URL or data: URI)
    reference: str = ""  # our idempotency key, where the provider can carry one


@dataclass
class CallRequest:
    from_number: str
    to_number: str
    # What to do when answered: {"connect": "+46…"} or {"play": "https://…"}.
    action: dict[str, Any]
    timeout: int = 60
    status_url: str = ""  # hangup / call status webhook
    answer_url: str = ""  # where the provider fetches call instructions, if it does


@dataclass
class SendResult:
    """What the provider answered to a send or a call. `cost` may be an estimate."""

    remote_id: str
    status: MessageStatus | CallState
    raw_status: str
    parts: int | None = None
    cost: Decimal | None = None
    currency: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class PriceEstimate:
    cost: Decimal
    currency: str
    parts: int | None = None
    source: str = "dryrun"


@dataclass
class NumberConfig:
    """Fields to change on a number; None leaves a field alone, "" clears it."""

    sms_url: str | None = None
    mms_url: str | None = None
    voice_url: str | None = None
    name: str | None = None


@dataclass
class WebhookRequest:
    """An incoming webhook as the adapter sees it: raw bytes, never a Django request."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]
    body: bytes
    remote_addr: str = ""
    content_type: str = ""

    def form(self) -> dict[str, str]:
        if self.method == "GET":
            return dict(self.query)
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON or is nested too deeply."""
        return loads_bounded(self.body.decode("utf-8"))


class EventType(StrEnum):
    MESSAGE_INBOUND = "message.inbound"  # a received SMS/MMS (full record in `message`)
    MESSAGE_STATUS = "message.status"  # a delivery report (`status_update`)
    CALL_STATUS = "call.status"  # a call status change or hangup (`call`, maybe partial)
    IGNORED = "ignored"  # verified but nothing to apply (e.g. a billing notice)


@dataclass
class MessageStatusUpdate:
    remote_id: str
    status: MessageStatus
    raw_status: str
    occurred_at: datetime | None = None
    error: str = ""
    cost: Decimal | None = None
    currency: str = ""


@dataclass
class InboundEvent:
    type: EventType
    event_id: str | None  # the provider's id when it has one; otherwise the body hash is used
    message: RemoteMessage | None = None
    status_update: MessageStatusUpdate | None = None
    call: RemoteCall | None = None
    # What to answer the provider (e.g. 46elks voice_start actions); None means empty 200.
    reply: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
