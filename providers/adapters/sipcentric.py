"""Sipcentric (Simwood "Direct" PBX) REST API v1.

JSON in and out, HTTP Basic with the portal user, everything below
`/customers/{id|me}`. Lists are `{totalItems,pageSize,page,items,prevPage,nextPage}`,
newest first (assumed: the docs do not say). Numbers are UK national format on the wire
("07902000000") and E.164 in our records. Money is float GBP.

History paging (see `Page`): every cursor is a small JSON document.
- calls and recordings have `createdAfter`/`createdBefore` filters: a walk pins
  `createdBefore` to the newest item of its first page, so later arrivals cannot shift the
  page numbers under it, and an incremental walk adds `createdAfter = since - LOOKBACK`.
- sms has no documented time filters, so a walk counts positions from the *oldest* end
  (`rem` = items still to read below the current position). New messages only ever appear
  at the head and SMS cannot be deleted, so that count is stable while `totalItems` grows;
  an incremental walk stops at the first message older than `since - LOOKBACK`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import phonenumbers

from .base import Adapter, Connection, SubaccountIdentity
from .errors import AuthFailed, ProviderError, RateLimited, Rejected, Unavailable
from .http import ProviderHttp, StreamError, retry_after_seconds
from .normalize import parse_int, parse_time, required_time, to_decimal
from .records import (
    AccountBalance,
    AccountInfo,
    CallRequest,
    CallState,
    Capability,
    Direction,
    EventType,
    InboundEvent,
    MessageKind,
    MessageStatus,
    Page,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteRecording,
    RemoteSubaccount,
    SendResult,
    SmsRequest,
    WebhookRequest,
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
    text = str(value or "").strip()
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


class SipcentricAdapter(Adapter):
    code = "sipcentric"
    name = "Sipcentric"
    default_base_url = "https://pbx.sipcentric.com/api/v1"
    capabilities = frozenset(
        {
            Capability.SEND_SMS,
            Capability.PLACE_CALL,
            Capability.MESSAGES,
            Capability.CALLS,
            Capability.RECORDINGS,
            Capability.NUMBERS,
            Capability.SUBACCOUNTS,
            Capability.BALANCE,
            Capability.WEBHOOKS,
        }
    )
    credential_shapes = (("username", "password"),)
    credential_labels = {"username": "Username", "password": "Password"}
    webhook_kinds = ("sms",)
    # Click-to-dial starts from a PBX endpoint: an extension or the endpoint's URI.
    caller_pattern = r"\d{1,6}|(https?://|endpoints/)\S+"

    @classmethod
    def subaccount_identity(
        cls, parent_credentials: Callable[[], Mapping[str, str]], remote_id: str
    ) -> SubaccountIdentity:
        # The parent's credentials; the customer id (the child's remote_account_id) selects it.
        return SubaccountIdentity()

    def __init__(self, connection: Connection, http: ProviderHttp):
        super().__init__(connection, http)
        self._own_id: str | None = None
        self._endpoint_cache: dict[str, str] = {}  # extension -> endpoint URI (a paged lookup)

    @classmethod
    def http_auth(cls, connection: Connection) -> Any:
        return (
            str(connection.credentials.get("username", "")),
            str(connection.credentials.get("password", "")),
        )

    @classmethod
    def http_headers(cls, connection: Connection) -> dict[str, str]:
        return {"Accept": "application/json"}

    # -- plumbing ----------------------------------------------------------------------
    @property
    def customer_path(self) -> str:
        return f"customers/{self.connection.remote_account_id or 'me'}"

    @property
    def page_size(self) -> int:
        size = _int(self.connection.options.get("page_size")) or MAX_PAGE_SIZE
        return max(1, min(MAX_PAGE_SIZE, size))

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        response = self.http.request(method, path, params=params, json_body=body)
        return self._check(response)

    def _check(self, response: httpx.Response, *, expect_json: bool = True) -> Any:
        if response.status_code >= 300:
            raise self._error(response)
        if not expect_json:
            return None
        try:
            data = response.json()
        except ValueError:
            raise Unavailable(
                "Sipcentric sent a malformed response.", request_sent=True, status=response.status_code
            ) from None
        # The official client treats any body with `errors`/`validationErrors` as a failure.
        if isinstance(data, dict) and (data.get("errors") or data.get("validationErrors")):
            raise Rejected(
                error_message(data) or "Sipcentric reported an error.", status=response.status_code
            )
        return data

    def _error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        try:
            detail = error_message(response.json())
        except ValueError:
            detail = ""
        if status == 401:
            return AuthFailed("Sipcentric refused the username or password.", status=status)
        if status == 403:
            # A valid login whose access level (extension user, admin, reseller) lacks this.
            return AuthFailed(
                "This Sipcentric user is not allowed to do that" + (f": {detail}" if detail else "."),
                status=status,
            )
        if status == 429:
            retry = retry_after_seconds(response)
            if retry is None:
                reset = response.headers.get("x-ratelimit-reset")
                try:
                    retry = max(0.0, float(reset)) if reset else None
                except ValueError:
                    retry = None
            return RateLimited(
                "Sipcentric rate limit reached (1200 requests per hour).", retry_after=retry, status=status
            )
        if status >= 500:
            return Unavailable(
                f"Sipcentric is unavailable (HTTP {status})" + (f": {detail}" if detail else "."),
                request_sent=True,
                status=status,
            )
        if status == 304:
            return Unavailable("Sipcentric answered 304 without a cached copy.", status=status)
        return Rejected(detail or f"Sipcentric rejected the request (HTTP {status}).", status=status)

    def _page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        data = self._call("GET", path, params={k: v for k, v in params.items() if v is not None})
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise Unavailable("Sipcentric sent a malformed response.", request_sent=True)
        data.setdefault("items", [])
        return data

    # -- account ------------------------------------------------------------------------
    def check_credentials(self) -> AccountInfo:
        item = self._call("GET", self.customer_path)
        if not isinstance(item, dict):
            raise Unavailable("Sipcentric sent a malformed response.")
        customer = parse_customer(item)
        self._own_id = customer.remote_id
        return AccountInfo(remote_id=customer.remote_id, name=customer.name, currency=CURRENCY, raw=item)

    def get_balance(self) -> AccountBalance:
        item = self._call("GET", f"{self.customer_path}/creditstatus")
        if not isinstance(item, dict):
            raise Unavailable("Sipcentric sent a malformed response.")
        # `balance` per the response example and property table; `creditRemaining` per the
        # older representation example.
        amount = _money(item.get("balance", item.get("creditRemaining")))
        if amount is None:
            raise Unavailable("Sipcentric credit status has no balance.")
        return AccountBalance(amount=amount, currency=CURRENCY, raw=item)

    # -- history: sms (position counted from the oldest end) ------------------------------
    def list_messages(self, cursor: str | None) -> Page[RemoteMessage]:
        state = _decode_cursor(cursor)
        path = f"{self.customer_path}/sms"
        if state.get("mode") != "walk":
            # Start a walk: a backfill (no `since`) or an incremental one from `since`.
            since = state.get("since")
            cut = _fmt_filter_time(required_time(since) - LOOKBACK) if since else None
            state = {"mode": "walk", "since": since, "cut": cut, "rem": None, "total": None, "top": None}
        size = int(state.get("ps") or self.page_size)
        rem: int | None = state["rem"]
        if rem is None:
            data = self._page(path, {"page": 1, "pageSize": size})
            total = int(data.get("totalItems") or len(data["items"]))
            items, rem = data["items"], total
        else:
            total = int(state["total"])
            # The list may have grown at the head since the last page: re-aim until the
            # fetched page holds position `total - rem` of the list as it is now.
            for _ in range(4):
                page = max(0, total - rem) // size + 1
                data = self._page(path, {"page": page, "pageSize": size})
                new_total = _int(data.get("totalItems"))
                if new_total is None or new_total == total:
                    break
                total = new_total
                if max(0, total - rem) // size + 1 == page:
                    break
            else:
                raise Unavailable("Sipcentric SMS history kept moving while paging.", request_sent=True)
            start = max(0, total - rem)
            items = data["items"][start - (page - 1) * size :]
        items = items[: max(rem, 0)]
        rem -= len(items)
        cut_at = required_time(state["cut"]) if state.get("cut") else None
        out: list[RemoteMessage] = []
        stopped = False
        for item in items:
            message = parse_message(item)
            if cut_at is not None and message.created_at < cut_at:
                stopped = True  # newest first: everything after is older still
                break
            out.append(message)
            if state["top"] is None or message.created_at > required_time(state["top"]):
                state["top"] = _fmt_filter_time(message.created_at)
        if stopped or rem <= 0 or not items:
            since = _later(state.get("since"), state.get("top"))
            return Page(out, _encode_cursor({"mode": "tail", "since": since}), True)
        state.update(rem=rem, total=total, ps=size)
        return Page(out, _encode_cursor(state), False)

    # -- history: calls and recordings (pinned by createdBefore) --------------------------
    def _time_walk(self, resource: str, cursor: str | None) -> tuple[list[dict[str, Any]], str, bool]:
        state = _decode_cursor(cursor)
        if state.get("mode") != "walk":
            since = state.get("since")
            after = _fmt_filter_time(required_time(since) - LOOKBACK) if since else None
            state = {"mode": "walk", "since": since, "after": after, "until": None, "page": 1, "top": None}
        size = int(state.get("ps") or self.page_size)
        data = self._page(
            f"{self.customer_path}/{resource}",
            {
                "page": state["page"],
                "pageSize": size,
                "createdAfter": state.get("after"),
                "createdBefore": state.get("until"),
            },
        )
        items = data["items"]
        for item in items:
            created = _time(item.get("created"))
            if created and (state["top"] is None or created > required_time(state["top"])):
                state["top"] = _fmt_filter_time(created)
        if state["until"] is None and items:
            state["until"] = state["top"]  # pin: later arrivals wait for the next sync
        total = _int(data.get("totalItems"))
        more = bool(data.get("nextPage")) if "nextPage" in data or "prevPage" in data else None
        if more is None:
            more = total is not None and state["page"] * size < total
        if not items or not more:
            since = _later(state.get("since"), state.get("top"))
            return items, _encode_cursor({"mode": "tail", "since": since}), True
        state.update(page=state["page"] + 1, ps=size)
        return items, _encode_cursor(state), False

    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        items, next_cursor, done = self._time_walk("calls", cursor)
        return Page([parse_call(i) for i in items], next_cursor, done)

    def list_recordings(self, cursor: str | None) -> Page[RemoteRecording]:
        items, next_cursor, done = self._time_walk("recordings", cursor)
        return Page([parse_recording(i) for i in items], next_cursor, done)

    # -- numbers and customers: small lists, re-read in full every sync -------------------
    def list_numbers(self, cursor: str | None) -> Page[RemoteNumber]:
        page = int(_decode_cursor(cursor).get("page") or 1)
        data = self._page(f"{self.customer_path}/phonenumbers", {"page": page, "pageSize": MAX_PAGE_SIZE})
        items = [parse_number(i) for i in data["items"]]
        if data.get("nextPage") and data["items"]:
            return Page(items, _encode_cursor({"page": page + 1}), False)
        return Page(items, None, True)

    def list_subaccounts(self, cursor: str | None) -> Page[RemoteSubaccount]:
        """Customers under a reseller login (`GET /customers`). A non-reseller either gets
        403 (no subaccounts) or a list holding only itself, which is left out."""
        page = int(_decode_cursor(cursor).get("page") or 1)
        try:
            data = self._page("customers", {"page": page, "pageSize": MAX_PAGE_SIZE})
        except (AuthFailed, Rejected) as exc:
            if exc.status in (403, 404, 405):
                return Page([], None, True)
            raise
        own = self.connection.remote_account_id or self._own_id
        if own is None:
            own = self.check_credentials().remote_id
        items = [c for c in (parse_customer(i) for i in data["items"]) if c.remote_id != own]
        if data.get("nextPage") and data["items"]:
            return Page(items, _encode_cursor({"page": page + 1}), False)
        return Page(items, None, True)

    # -- single reads ----------------------------------------------------------------------
    def get_message(self, remote_id: str) -> RemoteMessage:
        item = self._call("GET", f"{self.customer_path}/sms/{remote_id}")
        if not isinstance(item, dict):
            raise Unavailable("Sipcentric sent a malformed response.")
        return parse_message(item)

    def download_recording(self, recording: RemoteRecording) -> Iterator[bytes]:
        # ProviderHttp.stream cannot set `Accept: audio/wav`, so use the `.wav` suffix.
        try:
            yield from self.http.stream("GET", f"{self.customer_path}/recordings/{recording.remote_id}.wav")
        except StreamError as exc:
            raise self._error(exc.response) from None

    # -- sending ---------------------------------------------------------------------------
    def send_sms(self, request: SmsRequest) -> SendResult:
        payload = {
            "type": "smsmessage",
            "to": to_wire_number(request.to_number),
            "from": to_wire_number(request.from_number),
            "body": request.body,
        }
        response = self.http.request("POST", f"{self.customer_path}/sms", json_body=payload)
        location = response.headers.get("location", "")
        try:
            item = self._check(response)
        except Unavailable:
            if response.status_code == 201 and location:
                # Created (the Location proves it) but the body is unreadable: not "unknown".
                item = {"uri": location, "direction": "OUT", "sendStatus": "SENT"}
            else:
                raise
        if not isinstance(item, dict):
            raise Unavailable("Sipcentric sent a malformed response.", request_sent=True)
        if not item.get("uri") and not item.get("id"):
            item = {**item, "uri": location}
        message = parse_message({"direction": "OUT", **item})
        if not message.remote_id:
            raise Unavailable("Sipcentric did not return the new message's id.", request_sent=True)
        return SendResult(
            remote_id=message.remote_id,
            status=message.status,
            raw_status=message.raw_status,
            cost=message.cost,
            currency=message.currency,
            raw=item,
        )

    def place_call(self, request: CallRequest) -> SendResult:
        """Click-to-dial: the PBX rings a local endpoint, then dials `to` and bridges.

        `from_number` (or `action["endpoint"]`) names the endpoint: a full endpoint URI, a
        path like `endpoints/1234`, or an extension's short number ("201"), looked up in
        `/endpoints`. The API answers 200 with no body, so there is no call id: the call
        arrives with the next call-history sync.
        """
        endpoint = self._endpoint_uri(str(request.action.get("endpoint") or request.from_number))
        payload = {"type": "call", "endpoint": endpoint, "to": to_wire_number(request.to_number)}
        response = self.http.request("POST", f"{self.customer_path}/calls", json_body=payload)
        self._check(response, expect_json=False)
        return SendResult(remote_id="", status=CallState.QUEUED, raw_status="", raw={"endpoint": endpoint})

    def _endpoint_uri(self, value: str) -> str:
        value = value.strip()
        if value.startswith(("http://", "https://")):
            return value
        if re.fullmatch(r"(customers/[^/]+/)?endpoints/\d+", value):
            rel = value if value.startswith("customers/") else f"{self.customer_path}/{value}"
            return f"{self.http.base_url}/{rel}"
        if not re.fullmatch(r"\d{1,6}", value):
            raise Rejected(
                "Sipcentric calls start from a PBX endpoint: give its URI or its extension number, "
                f"not {value!r}."
            )
        key = value
        if key in self._endpoint_cache:
            return self._endpoint_cache[key]
        page = 1
        while True:
            data = self._page(f"{self.customer_path}/endpoints", {"page": page, "pageSize": MAX_PAGE_SIZE})
            for item in data["items"]:
                if str(item.get("shortNumber") or "") == value and item.get("uri"):
                    self._endpoint_cache[key] = str(item["uri"])
                    return self._endpoint_cache[key]
            if not data.get("nextPage") or not data["items"]:
                raise Rejected(f"No Sipcentric endpoint has extension {value}.")
            page += 1

    # -- webhooks --------------------------------------------------------------------------
    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        """Inbound SMS: a form POST `to, from, body, udh` to the number's smsNotificationUrl.

        The form has no id. The same message shows up in `/sms` with a numeric id, so we
        look it up there (newest inbound with the same from/to/body) and use the real id;
        only if that fails is the id derived from the form ("wh-<sha256>"), which the
        history sync will then import a second time under its real id.
        """
        if kind != "sms":
            raise Rejected(f"Sipcentric sends no {kind!r} webhooks.")
        form = request.form()
        if not form.get("from") or not form.get("to") or "body" not in form:
            raise Rejected("Sipcentric SMS webhook without to/from/body.")
        frm, to, body, udh = form["from"], form["to"], form["body"], form.get("udh", "")
        item = self._find_inbound(frm, to, body) if not udh else None
        found = item is not None
        if item is None:
            digest = hashlib.sha256("|".join((frm, to, body, udh)).encode()).hexdigest()[:32]
            item = {"id": f"wh-{digest}", "direction": "IN", "from": frm, "to": to, "body": body}
        message = parse_message({**item, "direction": "IN"}, fallback_time=datetime.now(UTC))
        message.raw = {"webhook": form, "history": item if found else None}
        return [InboundEvent(EventType.MESSAGE_INBOUND, event_id=None, message=message, raw=form)]

    def _find_inbound(self, frm: str, to: str, body: str) -> dict[str, Any] | None:
        if not self.connection.options.get("webhook_lookup", True):
            return None
        want = (to_e164(frm), to_e164(to), body)
        try:
            data = self._page(f"{self.customer_path}/sms", {"page": 1, "pageSize": 50})
        except ProviderError:
            return None
        for item in data["items"]:
            if _word(item.get("direction")) != "IN":
                continue
            if (to_e164(item.get("from")), to_e164(item.get("to")), str(item.get("body") or "")) == want:
                found: dict[str, Any] = item
                return found
        return None
