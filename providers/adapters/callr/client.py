"""Callr adapter: JSON-RPC 2.0 (API v1.1) over one POST endpoint, positional params.

Money (see PROVIDER_NOTES §3.8 and callr-objects.md): Callr's `amount` format is "cents with
2 decimals" ("1000.00" is 10 EUR). That applies to the per-unit costs we read:
  - SMS `b_customer_debit`             cents  -> from_cents, account currency
  - CDR `billing_customer_debit_eur`   cents  -> from_cents, EUR (the field name says EUR)
  - SubAccount `state.credit`          cents  -> from_cents (kept in raw only)
`billing.get_prepaid_credit()` is documented as a plain decimal string balance ("123.45"; the
SDKs parse it as a number), so it is read in currency units, not cents.

History lists (`sms.get_list`, `cdr.get`) take a type and a date range and return everything
in it, with no paging. The cursor therefore walks date windows (see `_Walk`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from ..base import Adapter, Connection, SubaccountIdentity
from ..errors import AuthFailed, NotSupported, RateLimited, Rejected, Unavailable
from ..http import ProviderHttp, retry_after_seconds
from ..normalize import parse_time, to_decimal
from ..records import (
    AccountBalance,
    AccountInfo,
    CallRequest,
    CallState,
    Capability,
    Direction,
    MessageStatus,
    Page,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteSubaccount,
    SendResult,
    SmsRequest,
)
from .parse import (
    AUTH_CODES,
    AUTH_WORDS,
    RATE_WORDS,
    RPC_INTERNAL_ERROR,
    RPC_INVALID_PARAMS,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_PARSE_ERROR,
    UNAVAILABLE_WORDS,
    _fmt,
    _int,
    parse_cdr,
    parse_did,
    parse_sms,
    parse_subaccount,
)


class CallrClient(Adapter):
    code = "callr"
    name = "Callr"
    default_base_url = "https://api.callr.com/json-rpc/v1.1"
    capabilities = frozenset(
        {
            Capability.SEND_SMS,
            Capability.PLACE_CALL,
            Capability.MESSAGES,
            Capability.CALLS,
            Capability.NUMBERS,
            Capability.SUBACCOUNTS,
            Capability.CREATE_SUBACCOUNT,
            Capability.UPDATE_SUBACCOUNT,
            Capability.BALANCE,
            Capability.WEBHOOKS,
        }
    )
    credential_shapes = (("api_key",), ("login", "password"))
    credential_labels = {"login": "Login", "password": "Password", "api_key": "API key"}
    webhook_kinds = ("events",)
    signs_webhooks = True
    alphanumeric_sender_kinds = frozenset({"sms"})
    delivery_report_kind = "events"

    @classmethod
    def subaccount_identity(
        cls, parent_credentials: Callable[[], Mapping[str, str]], remote_id: str
    ) -> SubaccountIdentity:
        # The parent's credentials, acting as the child (the CALLR-Login-As header).
        return SubaccountIdentity(options={"login_as": remote_id})

    # History walking; all overridable per connection through `options`.
    HORIZON_DAYS: ClassVar[int] = 730  # how far back a first sync looks
    EMPTY_STOP_DAYS: ClassVar[int] = 180  # stop a backfill after this much silence past the last item
    LOOKBACK_HOURS: ClassVar[int] = 48  # re-read on every incremental sync for late status changes
    PAGE_TARGET: ClassVar[int] = 250  # items a window aims for
    PAGE_CAP: ClassVar[int] = 2000  # a window returning more is split and re-read
    MIN_WINDOW: ClassVar[int] = 60
    MAX_WINDOW: ClassVar[int] = 31 * 86400
    FIRST_WINDOW: ClassVar[int] = 3600
    SUBACCOUNT_PAGE: ClassVar[int] = 100

    def __init__(
        self, connection: Connection, http: ProviderHttp, *, clock: Callable[[], datetime] | None = None
    ):
        super().__init__(connection, http)
        self._seq = 0
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- auth -----------------------------------------------------------------------------
    @classmethod
    def http_auth(cls, connection: Connection) -> Any:
        creds = connection.credentials
        if not creds.get("api_key") and creds.get("login"):
            return (creds["login"], creds.get("password", ""))
        return None

    @classmethod
    def http_headers(cls, connection: Connection) -> dict[str, str]:
        headers = {"Content-Type": "application/json-rpc; charset=utf-8"}
        if connection.credentials.get("api_key"):
            headers["Authorization"] = f"Api-Key {connection.credentials['api_key']}"
        login_as = str(connection.options.get("login_as") or "").strip()
        if login_as:
            # "<type> <target>" (e.g. "account.hash 8242D945"); a bare value is a sub-account hash.
            headers["CALLR-Login-As"] = login_as if " " in login_as else f"account.hash {login_as}"
        return headers

    # -- JSON-RPC -------------------------------------------------------------------------
    def _rpc(self, method: str, *params: Any) -> Any:
        self._seq += 1
        envelope = {"jsonrpc": "2.0", "id": self._seq, "method": method, "params": list(params)}
        response = self.http.request(
            "POST", "", json_body=envelope, headers={"Content-Type": "application/json-rpc; charset=utf-8"}
        )
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if status in (401, 403):
            raise AuthFailed(self._error_text(error) or "Callr refused the credentials.", status=status)
        if status == 429:
            raise RateLimited(
                self._error_text(error) or "Rate limited by Callr.", retry_after=retry_after_seconds(response)
            )
        if status >= 500:
            raise Unavailable(
                self._error_text(error) or f"Callr answered HTTP {status}.", request_sent=True, status=status
            )
        if isinstance(error, dict):
            raise self._map_rpc_error(error, status)
        if status >= 400:
            raise Rejected(f"Callr answered HTTP {status}.", status=status)
        if not isinstance(body, dict) or "result" not in body:
            raise Unavailable("Callr sent a malformed response.", request_sent=True, status=status)
        return body["result"]

    @staticmethod
    def _error_text(error: Any) -> str:
        if not isinstance(error, dict):
            return ""
        message = str(error.get("message") or "").strip()
        data = error.get("data")
        detail = ""
        if isinstance(data, str):
            detail = data
        elif isinstance(data, dict):
            detail = ", ".join(f"{k}: {v}" for k, v in data.items() if isinstance(v, str | int | float))
        return f"{message} ({detail})" if message and detail else message or detail

    def _map_rpc_error(self, error: dict[str, Any], status: int) -> Exception:
        code = _int(error.get("code"))
        message = str(error.get("message") or "")
        text = self._error_text(error) or "Callr reported an error."
        code_s = str(code) if code is not None else None
        if code in AUTH_CODES or AUTH_WORDS.search(message):
            return AuthFailed(text, status=status, code=code_s)
        if code == 429 or RATE_WORDS.search(message):
            return RateLimited(text, status=status, code=code_s)
        if code == RPC_METHOD_NOT_FOUND:
            return NotSupported(text, status=status, code=code_s)
        if code in (RPC_PARSE_ERROR, RPC_INVALID_REQUEST, RPC_INVALID_PARAMS):
            return Rejected(text, status=status, code=code_s)
        # -32603 and the -32000..-32099 server range, plus 5xx-style codes, are the provider's fault.
        if (
            code == RPC_INTERNAL_ERROR
            or (code is not None and (-32099 <= code <= -32000 or 500 <= code <= 599))
            or UNAVAILABLE_WORDS.search(message)
        ):
            return Unavailable(text, request_sent=True, status=status, code=code_s)
        # Callr business errors (100 feature not allowed, 150 missing property, 151 invalid
        # value, 1000 SMS routing error, …): bad input, never retried.
        return Rejected(text, status=status, code=code_s)

    # -- account ------------------------------------------------------------------------------
    def check_credentials(self) -> AccountInfo:
        timestamp = self._rpc("system.get_timestamp")
        creds = self.connection.credentials
        # Callr has no "who am I" call in v1; identify by login, else by a digest of the key.
        remote_id = self.connection.remote_account_id or creds.get("login") or ""
        if not remote_id and creds.get("api_key"):
            remote_id = "key-" + hashlib.sha256(creds["api_key"].encode()).hexdigest()[:8].upper()
        return AccountInfo(
            remote_id=remote_id, name=remote_id, currency=self._currency, raw={"time": timestamp}
        )

    def get_balance(self) -> AccountBalance:
        result = self._rpc("billing.get_prepaid_credit")
        amount = to_decimal(result)  # currency units, not cents (see the module docstring)
        if amount is None:
            raise Unavailable("Callr sent an empty balance.", request_sent=True)
        return AccountBalance(amount=amount, currency=self._currency, raw={"prepaid_credit": result})

    @property
    def _currency(self) -> str:
        return str(self.connection.options.get("currency") or "EUR")

    # -- history --------------------------------------------------------------------------------
    def list_messages(self, cursor: str | None) -> Page[RemoteMessage]:
        def fetch(lo: int, hi: int) -> list[RemoteMessage]:
            items = []
            for kind in ("OUT", "IN"):
                for raw in self._rpc("sms.get_list", kind, _fmt(lo), _fmt(hi - 1)) or []:
                    items.append(parse_sms(raw, self._currency))
            return items

        return self._walk(cursor, fetch, key=lambda m: m.created_at)

    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        def fetch(lo: int, hi: int) -> list[RemoteCall]:
            items = []
            for kind in ("OUT", "IN"):
                for raw in self._rpc("cdr.get", kind, _fmt(lo), _fmt(hi - 1), None, None) or []:
                    items.append(
                        parse_cdr(raw, Direction.OUTBOUND if kind == "OUT" else Direction.INBOUND)
                    )
            return items

        return self._walk(cursor, fetch, key=lambda c: c.created_at)

    def get_message(self, remote_id: str) -> RemoteMessage:
        return parse_sms(self._rpc("sms.get", remote_id), self._currency)

    def list_numbers(self, cursor: str | None) -> Page[RemoteNumber]:
        # apps.get_dids(only_available=False): every DID on the account, in one answer.
        return Page([parse_did(d) for d in self._rpc("apps.get_dids", False) or []], None, True)

    def list_subaccounts(self, cursor: str | None) -> Page[RemoteSubaccount]:
        offset = int(json.loads(cursor).get("offset", 0)) if cursor else 0
        result = self._rpc(
            "account/sub.search",
            {"archived": None},  # both archived and live; archived ones come back inactive
            {"offset": offset, "quantity": self.SUBACCOUNT_PAGE},
        )
        if not isinstance(result, dict):
            raise Unavailable("Callr sent a malformed sub-account list.", request_sent=True)
        hits = result.get("hits") or []
        items = [parse_subaccount(h) for h in hits]
        if result.get("has_more") and hits:
            return Page(items, json.dumps({"offset": offset + len(hits)}), False)
        return Page(items, None, True)  # re-listed in full on every sync

    # -- the date-window walk ------------------------------------------------------------------
    def _opt(self, name: str, default: int) -> int:
        return int(self.connection.options.get(f"callr_{name}", default))

    def _walk(
        self, cursor: str | None, fetch: Callable[[int, int], list[Any]], key: Callable[[Any], datetime]
    ) -> Page[Any]:
        """Walk [lo, hi) windows of whole seconds.

        Cursor states (JSON):
          back: first sync, newest first: {"m":"back","hi","floor","top","win","last"}; `top` is
                when the backfill started, `last` the oldest item time seen (for the silence stop).
          fwd:  incremental, oldest first: {"m":"fwd","lo","until","win"}; `until` is fixed by the
                first page of a run. When done the cursor restarts LOOKBACK before `until`.
        """
        now = int(self.clock().timestamp()) + 1
        lookback = self._opt("lookback_hours", self.LOOKBACK_HOURS) * 3600
        state = json.loads(cursor) if cursor else None
        if state is None:
            floor = now - self._opt("horizon_days", self.HORIZON_DAYS) * 86400
            if self.connection.options.get("created_at"):  # the account's start, when known
                start = parse_time(self.connection.options["created_at"])
                if start:
                    floor = max(floor, int(start.timestamp()) - 86400)
            state = {
                "m": "back",
                "hi": now,
                "floor": floor,
                "top": now,
                "win": self.FIRST_WINDOW,
                "last": None,
            }
        if state["m"] == "back":
            hi, win = state["hi"], state["win"]
            lo = max(state["floor"], hi - win)
            items, lo = self._fetch_window(fetch, lo, hi)
            items.sort(key=key, reverse=True)
            if items:
                state["last"] = int(key(items[-1]).timestamp())
            silence = self._opt("empty_stop_days", self.EMPTY_STOP_DAYS) * 86400
            quiet = state["last"] is not None and state["last"] - lo >= silence
            if lo <= state["floor"] or quiet:
                nxt = {"m": "fwd", "lo": state["top"] - lookback, "until": None, "win": self.FIRST_WINDOW}
                return Page(items, json.dumps(nxt), True)
            state.update(hi=lo, win=self._next_window(hi - lo, len(items)))
            return Page(items, json.dumps(state), False)
        # forward
        lo, win = state["lo"], state["win"]
        if not state.get("until"):  # a new incremental run: one window for the whole gap if it fits
            win = max(win, min(self.MAX_WINDOW, now - lo))
        until = state.get("until") or now
        hi = min(until, lo + win)
        items, hi = self._fetch_window(fetch, lo, hi, forward=True)
        items.sort(key=key)
        if hi >= until:
            nxt = {"m": "fwd", "lo": until - lookback, "until": None, "win": self.FIRST_WINDOW}
            return Page(items, json.dumps(nxt), True)
        nxt = {"m": "fwd", "lo": hi, "until": until, "win": self._next_window(hi - lo, len(items))}
        return Page(items, json.dumps(nxt), False)

    def _fetch_window(
        self, fetch: Callable[[int, int], list[Any]], lo: int, hi: int, forward: bool = False
    ) -> tuple[list[Any], int]:
        """Fetch one window; if it is too full, shrink it (keeping the end nearest the walk's
        origin) and read again, so one page never holds an unbounded list."""
        while True:
            items = fetch(lo, hi)
            if len(items) <= self.PAGE_CAP or hi - lo <= self.MIN_WINDOW:
                return items, (hi if forward else lo)
            span = max(self.MIN_WINDOW, (hi - lo) // 4)
            if forward:
                hi = lo + span
            else:
                lo = hi - span

    def _next_window(self, width: int, count: int) -> int:
        factor = 4.0 if count == 0 else max(0.25, min(4.0, self.PAGE_TARGET / count))
        return int(max(self.MIN_WINDOW, min(self.MAX_WINDOW, width * factor)))

    # -- sending ---------------------------------------------------------------------------------
    def send_sms(self, request: SmsRequest) -> SendResult:
        options: dict[str, Any] = {}
        if request.status_url:
            options["webhook"] = {"endpoint": request.status_url}  # SMS.Options.webhook (a Webhook)
        user_data = re.sub(r"[^A-Za-z0-9]", "", request.reference or "")
        if user_data and len(user_data) <= 32:  # cdr_customer_field: ≤32 alphanumerics
            options["user_data"] = user_data
        result = self._rpc("sms.send", request.from_number, request.to_number, request.body, options or None)
        if not isinstance(result, str) or not result:
            raise Unavailable("Callr did not return an SMS id.", request_sent=True)
        return SendResult(result, MessageStatus.QUEUED, "CREATED", raw={"hash": result})

    def place_call(self, request: CallRequest) -> SendResult:
        # calls.realtime(app, target, options): the REALTIME10 app (configured at Callr with our
        # URL) drives the call, so `action`/`answer_url` cannot be passed per call.
        app = str(self.connection.options.get("realtime_app") or "")
        if not app:
            raise Rejected("Callr calls need a REALTIME10 app hash in the `realtime_app` option.")
        target = {"number": request.to_number, "timeout": max(5, min(300, int(request.timeout)))}
        options = {"cli": request.from_number} if request.from_number else None
        result = self._rpc("calls.realtime", app, target, options)
        if result in (None, ""):
            raise Unavailable("Callr did not return a call id.", request_sent=True)
        return SendResult(str(result), CallState.QUEUED, "", raw={"callid": result})

    # -- sub-accounts -----------------------------------------------------------------------------
    def create_subaccount(self, name: str, usage_limit: Any = None) -> RemoteSubaccount:
        if usage_limit is not None:
            raise NotSupported("Callr sub-accounts have no usage limit (credit is transferred instead).")
        email = str(self.connection.options.get("contact_email") or "")
        if not email:
            # SubAccount.Contact.emails is min 1; we have no address of our own to invent.
            raise Rejected("Callr sub-accounts need a contact email: set the connection's `contact_email`.")
        properties = {"account": {"company": name}, "contact": {"emails": [email]}, "params": {}}
        result = self._rpc("account/sub.create", properties, {"password": {"method": "AUTO"}})
        return parse_subaccount(result)

    def update_subaccount(
        self, remote_id: str, *, name: str | None = None, usage_limit: Any = None
    ) -> RemoteSubaccount:
        if usage_limit is not None:
            raise NotSupported("Callr sub-accounts have no usage limit (credit is transferred instead).")
        if name is not None:
            # [I] SubAccount.EditProperties lists contact/params only; `account` (company) is the
            # part of SubAccount that holds the name, sent the same way as on create.
            self._rpc("account/sub.edit", remote_id, {"account": {"company": name}}, {})
        return parse_subaccount(self._rpc("account/sub.get", remote_id))

    # -- parsing ---------------------------------------------------------------------------------
