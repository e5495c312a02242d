"""46elks: REST, HTTP Basic (API username/password; a subaccount uses id/secret), form-encoded
requests, JSON answers, text/plain errors. See PROVIDER_NOTES.md §1.

Choices worth knowing:
- A send answers `status: "created"` (accepted by 46elks, not yet handed to the operator);
  we map it to `sending`. The delivery report then says `sent`, `delivered` or `failed`.
- Money is an integer in 1/10000 of the account currency. The currency comes from
  `connection.options["currency"]`, else from `GET /me` (once per adapter), else "SEK".
- History lists are newest first: `start` = items created *before* a time, `end` = items
  created *after* it, `next` = the `start` of the following page. Our cursor is a JSON
  string (see `_walk`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from ..base import Adapter, Connection
from ..errors import AuthFailed, Malformed, ProviderError, RateLimited, Rejected, Unavailable
from ..http import StreamError, retry_after_seconds
from ..normalize import format_naive_utc
from ..records import (
    AccountBalance,
    AccountInfo,
    CallRequest,
    CallState,
    Capability,
    MessageKind,
    MessageStatus,
    NumberConfig,
    Page,
    PriceEstimate,
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
    CALL_STATE,
    DEFAULT_LOOKBACK,
    MESSAGE_CAP,
    MESSAGE_STATUS,
    PAGE_LIMIT,
    T,
    _int,
    _money,
    _required_time,
    _time,
    _to_ten_thousandths,
    parse_call,
    parse_message,
    parse_number,
    parse_recording,
    parse_subaccount,
)


class Elks46Client(Adapter):
    code = "46elks"
    name = "46elks"
    default_base_url = "https://api.46elks.com/a1"
    capabilities = frozenset(
        {
            Capability.SEND_SMS,
            Capability.SEND_MMS,
            Capability.DRY_RUN,
            Capability.PLACE_CALL,
            Capability.MESSAGES,
            Capability.CALLS,
            Capability.RECORDINGS,
            Capability.NUMBERS,
            Capability.ALLOCATE_NUMBER,
            Capability.CONFIGURE_NUMBER,
            Capability.RELEASE_NUMBER,
            Capability.SUBACCOUNTS,
            Capability.CREATE_SUBACCOUNT,
            Capability.UPDATE_SUBACCOUNT,
            Capability.BALANCE,
            Capability.WEBHOOKS,
        }
    )
    credential_shapes = (("username", "password"),)
    credential_labels = {"username": "API username", "password": "API password"}
    webhook_kinds = ("sms", "mms", "dlr", "voice", "hangup")
    alphanumeric_sender_kinds = frozenset({"sms"})
    named_senders = {"mms": frozenset({"noreply"})}  # 46elks sends an MMS "from" noreply
    delivery_report_kind = "dlr"
    call_status_kind = "hangup"
    # Subaccounts act only with their own secret (the default subaccount_identity: without
    # one the parent's credentials would sync the parent's history as the child's).

    # History phases per resource: messages live on two endpoints, walked one after the other.
    PHASES: ClassVar[dict[str, tuple[str, ...]]] = {
        "messages": ("sms", "mms"),
        "calls": ("calls",),
        "recordings": ("recordings",),
    }

    def __init__(self, connection: Connection, http: Any):
        super().__init__(connection, http)
        self._account_currency: str | None = connection.options.get("currency") or None

    @classmethod
    def http_auth(cls, connection: Connection) -> Any:
        creds = connection.credentials
        return (str(creds.get("username", "")), str(creds.get("password", "")))

    # -- HTTP ---------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for secret in (
            self.connection.credentials.get("password"),
            self.connection.credentials.get("username"),
        ):
            if secret and len(str(secret)) >= 4:
                text = text.replace(str(secret), "[redacted]")
        return text

    def _raise_for(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        if status == 401:
            raise AuthFailed("46elks refused the API username or password.", status=401)
        if status == 429:
            raise RateLimited(retry_after=retry_after_seconds(response))
        if status >= 500:
            raise Unavailable(f"46elks answered HTTP {status}.", request_sent=True, status=status)
        if status < 400:  # redirects are not followed; nothing sensible to do with one
            raise Unavailable(f"46elks answered HTTP {status}.", request_sent=True, status=status)
        # 46elks explains validation errors in a short text/plain sentence.
        text = self._scrub(" ".join(response.text.split()))
        if len(text) > MESSAGE_CAP:
            text = text[: MESSAGE_CAP - 1] + "…"
        raise Rejected(text or f"46elks rejected the request (HTTP {status}).", status=status)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Any:
        response = self.http.request(method, path, params=params, data=data)
        self._raise_for(response)
        try:
            return response.json()
        except ValueError:
            raise Unavailable(
                "Malformed response from 46elks.", request_sent=True, status=response.status_code
            ) from None

    def _read(self, parse: Callable[[Any], T], payload: Any) -> T:
        """Parse an API answer; an unreadable one is the provider's fault, so retryable."""
        try:
            return parse(payload)
        except (Malformed, KeyError, TypeError, AttributeError, ValueError):
            raise Unavailable("Malformed response from 46elks.", request_sent=True) from None

    def _stream(self, path: str) -> Iterator[bytes]:
        try:
            yield from self.http.stream("GET", path)
        except StreamError as exc:
            self._raise_for(exc.response)
            raise Unavailable("46elks download failed.", request_sent=True) from None

    @property
    def currency(self) -> str:
        if self._account_currency is None:
            me = self._call("GET", "me")
            self._account_currency = (
                str((me or {}).get("currency") or "SEK") if isinstance(me, dict) else "SEK"
            )
            self.learned_currency = self._account_currency
        return self._account_currency

    def _currency_after_send(self) -> str:
        """After a send succeeded, a failing /me must not turn it into an error."""
        try:
            return self.currency
        except ProviderError:
            return self._currency_hint()

    def _currency_hint(self) -> str:
        """For webhooks: never call the API while parsing."""
        return self._account_currency or "SEK"

    # -- parsing --------------------------------------------------------------------------------
    def _me(self) -> dict[str, Any]:
        me = self._call("GET", "me")
        if not isinstance(me, dict) or "id" not in me:
            raise Unavailable("Malformed response from 46elks.", request_sent=True)
        if not self.connection.options.get("currency") and me.get("currency"):
            self._account_currency = str(me["currency"])
        return me

    def check_credentials(self) -> AccountInfo:
        me = self._me()
        return AccountInfo(
            remote_id=str(me["id"]),
            name=str(me.get("displayname") or ""),
            currency=str(me.get("currency") or self.currency),
            raw=me,
        )

    def get_balance(self) -> AccountBalance:
        me = self._me()
        return self._read(
            lambda m: AccountBalance(
                amount=_money(m.get("balance")) or Decimal("0.0000"),
                currency=str(m.get("currency") or self.currency),
                credit_alert=_money(m.get("creditalert")),
                raw=m,
            ),
            me,
        )

    # -- history ----------------------------------------------------------------------------------
    def _lookback(self) -> timedelta:
        hours = self.connection.options.get("lookback_hours")
        return timedelta(hours=float(hours)) if hours not in (None, "") else DEFAULT_LOOKBACK

    def _walk(
        self, resource: str, cursor: str | None, parse: Callable[[str, dict[str, Any]], Any]
    ) -> RawPage[Any]:
        """One page of an incremental walk over one or more time-ordered endpoints.

        Cursor (JSON): {"phase": endpoint, "start": provider `next` or null,
        "floor": {endpoint: time}, "hw": {endpoint: newest created seen}}.
        Each pass walks every phase newest → oldest down to its floor (null: the whole
        history). When the last phase ends, the next pass's floors are the newest items
        seen minus the lookback, so late status changes are fetched again.
        """
        phases = self.PHASES[resource]
        state = self._decode_cursor(cursor, phases)
        phase = state["phase"]
        floor = state["floor"].get(phase)
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if state["start"]:
            params["start"] = state["start"]
        if floor:
            params["end"] = floor
        payload = self._call("GET", phase, params=params)

        def read(payload: Any) -> tuple[list[Any], str | None, datetime | None]:
            rows = payload["data"] if isinstance(payload, dict) else None
            if not isinstance(rows, list):
                raise Malformed("no data list")
            # Only the times here, for the cursor; the records are parsed by the RawPage.
            newest = max(filter(None, (_time(row.get("created")) for row in rows)), default=None)
            return rows, payload.get("next") or None, newest

        def parse_rows(rows: list[Any]) -> list[Any]:
            return self._read(lambda rows: [parse(phase, row) for row in rows], rows)

        items, next_start, newest = self._read(read, payload)
        hw = dict(state["hw"])
        if newest is not None:
            old = _time(hw.get(phase))
            if old is None or newest > old:
                hw[phase] = format_naive_utc(newest)
        if next_start and items and next_start != state["start"]:
            new_state = {**state, "start": str(next_start), "hw": hw}
            return RawPage(items, parse_rows, self._encode_cursor(new_state), done=False)
        index = phases.index(phase)
        if index + 1 < len(phases):
            new_state = {**state, "phase": phases[index + 1], "start": None, "hw": hw}
            return RawPage(items, parse_rows, self._encode_cursor(new_state), done=False)
        # Pass complete: the next sync fetches what is newer than (newest seen − lookback).
        lookback = self._lookback()
        floors = {
            p: format_naive_utc(_required_time(hw[p]) - lookback) if hw.get(p) else state["floor"].get(p)
            for p in phases
        }
        next_state = {"v": 1, "phase": phases[0], "start": None, "floor": floors, "hw": hw}
        return RawPage(items, parse_rows, self._encode_cursor(next_state), done=True)

    @staticmethod
    def _encode_cursor(state: dict[str, Any]) -> str:
        return json.dumps(state, sort_keys=True, separators=(",", ":"))

    @staticmethod
    def _decode_cursor(cursor: str | None, phases: tuple[str, ...]) -> dict[str, Any]:
        fresh = {"v": 1, "phase": phases[0], "start": None, "floor": {}, "hw": {}}
        if not cursor:
            return fresh
        try:
            state = json.loads(cursor)
            if not isinstance(state, dict) or state.get("phase") not in phases:
                raise ValueError
            return {
                "v": 1,
                "phase": state["phase"],
                "start": state.get("start") or None,
                "floor": dict(state.get("floor") or {}),
                "hw": dict(state.get("hw") or {}),
            }
        except (ValueError, TypeError):
            # A cursor from elsewhere: starting over is safe (imports are upserts), just slower.
            return fresh

    def fetch_messages(self, cursor: str | None) -> RawPage[RemoteMessage]:
        currency, base_url = self.currency, self.http.base_url
        return self._walk(
            "messages",
            cursor,
            lambda phase, row: parse_message(
                row, currency, base_url, MessageKind.MMS if phase == "mms" else MessageKind.SMS
            ),
        )

    def fetch_calls(self, cursor: str | None) -> RawPage[RemoteCall]:
        currency = self.currency
        return self._walk("calls", cursor, lambda _phase, row: parse_call(row, currency))

    def fetch_recordings(self, cursor: str | None) -> RawPage[RemoteRecording]:
        return self._walk("recordings", cursor, lambda _phase, row: parse_recording(row))

    def list_messages(self, cursor: str | None) -> Page[RemoteMessage]:
        return self.fetch_messages(cursor).parse()

    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        return self.fetch_calls(cursor).parse()

    def list_recordings(self, cursor: str | None) -> Page[RemoteRecording]:
        return self.fetch_recordings(cursor).parse()

    def _list_all(self, path: str, cursor: str | None, parse: Callable[[dict[str, Any]], Any]) -> Page[Any]:
        """Numbers and subaccounts are small and change in place: every sync lists them all,
        so the final cursor is None (start over next time)."""
        start = None
        if cursor:
            try:
                start = json.loads(cursor).get("start")
            except (ValueError, AttributeError):
                start = None
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if start:
            params["start"] = start
        payload = self._call("GET", path, params=params)

        def read(payload: Any) -> tuple[list[Any], str | None]:
            rows = payload["data"] if isinstance(payload, dict) else None
            if not isinstance(rows, list):
                raise Malformed("no data list")
            return [parse(row) for row in rows], payload.get("next") or None

        items, next_start = self._read(read, payload)
        if next_start and items and next_start != start:
            return Page(items, self._encode_cursor({"start": str(next_start)}), done=False)
        return Page(items, None, done=True)

    def list_numbers(self, cursor: str | None) -> Page[RemoteNumber]:
        currency = self.currency
        return self._list_all("numbers", cursor, lambda row: parse_number(row, currency))

    def list_subaccounts(self, cursor: str | None) -> Page[RemoteSubaccount]:
        currency = self.currency
        return self._list_all("subaccounts", cursor, lambda row: parse_subaccount(row, currency))

    def get_message(self, remote_id: str) -> RemoteMessage:
        kind = MessageKind.MMS if remote_id.startswith("m") else MessageKind.SMS
        payload = self._call("GET", f"{kind.value}/{remote_id}")
        currency = self.currency
        return self._read(lambda d: parse_message(d, currency, self.http.base_url, kind), payload)

    def get_call(self, remote_id: str) -> RemoteCall:
        payload = self._call("GET", f"calls/{remote_id}")
        currency = self.currency
        return self._read(lambda d: parse_call(d, currency), payload)

    def download_recording(self, recording: RemoteRecording) -> Iterator[bytes]:
        return self._stream(f"recordings/{recording.remote_id}.wav")

    def download_media(self, remote_id: str) -> Iterator[bytes]:
        # The file endpoint is /images/{id}.{filetype}; ask the metadata for the type.
        meta = self._call("GET", f"images/{remote_id}")
        filetype = str(meta.get("filetype") or "jpg") if isinstance(meta, dict) else "jpg"
        return self._stream(f"images/{remote_id}.{filetype}")

    # -- sending ------------------------------------------------------------------------------------
    def _sms_form(self, request: SmsRequest) -> dict[str, str]:
        data = {"from": request.from_number, "to": request.to_number, "message": request.body}
        if request.status_url:
            data["whendelivered"] = request.status_url
        return data

    def _send_result(self, d: dict[str, Any]) -> SendResult:
        raw_status = str(d.get("status") or "created")
        cost = _money(d.get("cost"))
        return SendResult(
            remote_id=str(d["id"]),
            status=MESSAGE_STATUS.get(raw_status, MessageStatus.UNKNOWN),
            raw_status=raw_status,
            parts=_int(d.get("parts")),
            cost=cost,
            currency=self._currency_after_send() if cost is not None else "",
            raw=dict(d),
        )

    def send_sms(self, request: SmsRequest) -> SendResult:
        payload = self._call("POST", "sms", data=self._sms_form(request))
        return self._read(self._send_result, payload)

    def estimate_sms(self, request: SmsRequest) -> PriceEstimate:
        data = {**self._sms_form(request), "dryrun": "yes"}
        data.pop("whendelivered", None)
        payload = self._call("POST", "sms", data=data)
        currency = self.currency

        def read(d: dict[str, Any]) -> PriceEstimate:
            cost = _money(d.get("estimated_cost", d.get("cost")))
            if cost is None:
                raise Malformed("no estimated_cost")
            return PriceEstimate(cost=cost, currency=currency, parts=_int(d.get("parts")))

        return self._read(read, payload)

    def send_mms(self, request: SmsRequest) -> SendResult:
        if len(request.media_urls) > 1:
            raise Rejected("46elks sends one image per MMS.")
        data = {"from": request.from_number, "to": request.to_number, "message": request.body}
        if request.media_urls:
            data["image"] = request.media_urls[0]
        payload = self._call("POST", "mms", data=data)
        return self._read(self._send_result, payload)

    def place_call(self, request: CallRequest) -> SendResult:
        # voice_start is a URL (fetched when answered) or the JSON of the first action.
        voice_start = json.dumps(request.action) if request.action else request.answer_url
        if not voice_start:
            raise Rejected("A call needs an action or an answer URL.")
        data = {
            "from": request.from_number,
            "to": request.to_number,
            "voice_start": voice_start,
            "timeout": str(int(request.timeout)),
        }
        if request.status_url:
            data["whenhangup"] = request.status_url
        payload = self._call("POST", "calls", data=data)

        def read(d: dict[str, Any]) -> SendResult:
            raw_state = str(d.get("state") or "ongoing")
            cost = _money(d.get("cost"))
            return SendResult(
                remote_id=str(d["id"]),
                status=CALL_STATE.get(raw_state, CallState.UNKNOWN),
                raw_status=raw_state,
                cost=cost,
                currency=self._currency_after_send() if cost is not None else "",
                raw=dict(d),
            )

        return self._read(read, payload)

    # -- numbers and subaccounts ----------------------------------------------------------------------
    def allocate_number(self, country: str, capabilities: list[str]) -> RemoteNumber:
        data = {"country": country.lower()}
        if capabilities:
            data["capabilities"] = ",".join(c.lower() for c in capabilities)
        payload = self._call("POST", "numbers", data=data)
        currency = self.currency
        return self._read(lambda d: parse_number(d, currency), payload)

    def configure_number(self, remote_id: str, config: NumberConfig) -> RemoteNumber:
        data: dict[str, str] = {}
        for ours, theirs in (
            ("sms_url", "sms_url"),
            ("mms_url", "mms_url"),
            ("voice_url", "voice_start"),
            ("name", "name"),
        ):
            value = getattr(config, ours)
            if value is not None:
                data[theirs] = value or "none"  # 46elks clears a field with "none"
        payload = self._call("POST", f"numbers/{remote_id}", data=data)
        currency = self.currency
        return self._read(lambda d: parse_number(d, currency), payload)

    def release_number(self, remote_id: str) -> RemoteNumber:
        payload = self._call("POST", f"numbers/{remote_id}", data={"active": "no"})
        currency = self.currency
        return self._read(lambda d: parse_number(d, currency), payload)

    def create_subaccount(self, name: str, usage_limit: Any = None) -> RemoteSubaccount:
        data = {"name": name}
        if usage_limit not in (None, ""):
            data["usagelimit"] = str(_to_ten_thousandths(usage_limit))  # given in currency units
        payload = self._call("POST", "subaccounts", data=data)
        currency = self.currency
        return self._read(lambda d: parse_subaccount(d, currency), payload)

    def update_subaccount(
        self, remote_id: str, *, name: str | None = None, usage_limit: Any = None
    ) -> RemoteSubaccount:
        data: dict[str, str] = {}
        if name is not None:
            data["name"] = name
        if usage_limit == "":
            data["usagelimit"] = "none"  # "" clears, as in NumberConfig
        elif usage_limit is not None:
            data["usagelimit"] = str(_to_ten_thousandths(usage_limit))
        payload = self._call("POST", f"subaccounts/{remote_id}", data=data)
        currency = self.currency
        return self._read(lambda d: parse_subaccount(d, currency), payload)
