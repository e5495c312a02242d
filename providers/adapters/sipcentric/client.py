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

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ..base import Adapter, Connection, SubaccountIdentity
from ..errors import AuthFailed, ProviderError, RateLimited, Rejected, Unavailable
from ..http import ProviderHttp, StreamError, retry_after_seconds
from ..normalize import required_time
from ..records import (
    AccountBalance,
    AccountInfo,
    CallRequest,
    CallState,
    Capability,
    Page,
    RawPage,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteRecording,
    RemoteSubaccount,
    SendResult,
    SmsRequest,
)
from .parse import (
    CURRENCY,
    LOOKBACK,
    MAX_PAGE_SIZE,
    _decode_cursor,
    _encode_cursor,
    _fmt_filter_time,
    _int,
    _later,
    _money,
    _time,
    error_message,
    parse_call,
    parse_customer,
    parse_message,
    parse_number,
    parse_recording,
    to_wire_number,
)


class SipcentricClient(Adapter):
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
        return self.fetch_messages(cursor).parse()

    def fetch_messages(self, cursor: str | None) -> RawPage[RemoteMessage]:
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
        # Only the times here, for the cursor (as parse_message reads them, the same
        # fallback for a missing one); the records are parsed by the RawPage.
        now = datetime.now(UTC)
        kept: list[dict[str, Any]] = []
        stopped = False
        for item in items:
            created = _time(item.get("created")) or now
            if cut_at is not None and created < cut_at:
                stopped = True  # newest first: everything after is older still
                break
            kept.append(item)
            if state["top"] is None or created > required_time(state["top"]):
                state["top"] = _fmt_filter_time(created)

        def parse_rows(rows: list[dict[str, Any]]) -> list[RemoteMessage]:
            return [parse_message(item, fallback_time=now) for item in rows]

        if stopped or rem <= 0 or not items:
            since = _later(state.get("since"), state.get("top"))
            return RawPage(kept, parse_rows, _encode_cursor({"mode": "tail", "since": since}), True)
        state.update(rem=rem, total=total, ps=size)
        return RawPage(kept, parse_rows, _encode_cursor(state), False)

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

    def fetch_calls(self, cursor: str | None) -> RawPage[RemoteCall]:
        items, next_cursor, done = self._time_walk("calls", cursor)
        return RawPage(items, lambda rows: [parse_call(i) for i in rows], next_cursor, done)

    def fetch_recordings(self, cursor: str | None) -> RawPage[RemoteRecording]:
        items, next_cursor, done = self._time_walk("recordings", cursor)
        return RawPage(items, lambda rows: [parse_recording(i) for i in rows], next_cursor, done)

    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        return self.fetch_calls(cursor).parse()

    def list_recordings(self, cursor: str | None) -> Page[RemoteRecording]:
        return self.fetch_recordings(cursor).parse()

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
