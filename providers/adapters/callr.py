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

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from .base import Adapter, Connection, SubaccountIdentity
from .errors import AuthFailed, NotSupported, RateLimited, Rejected, Unavailable, WebhookRejected
from .http import ProviderHttp, retry_after_seconds
from .normalize import from_cents, parse_int, parse_time, to_decimal
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
    MessageStatusUpdate,
    Page,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteSubaccount,
    SendResult,
    SmsRequest,
    WebhookRequest,
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


class CallrAdapter(Adapter):
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
                    items.append(self.parse_sms(raw))
            return items

        return self._walk(cursor, fetch, key=lambda m: m.created_at)

    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        def fetch(lo: int, hi: int) -> list[RemoteCall]:
            items = []
            for kind in ("OUT", "IN"):
                for raw in self._rpc("cdr.get", kind, _fmt(lo), _fmt(hi - 1), None, None) or []:
                    items.append(
                        self.parse_cdr(raw, Direction.OUTBOUND if kind == "OUT" else Direction.INBOUND)
                    )
            return items

        return self._walk(cursor, fetch, key=lambda c: c.created_at)

    def get_message(self, remote_id: str) -> RemoteMessage:
        return self.parse_sms(self._rpc("sms.get", remote_id))

    def list_numbers(self, cursor: str | None) -> Page[RemoteNumber]:
        # apps.get_dids(only_available=False): every DID on the account, in one answer.
        return Page([self.parse_did(d) for d in self._rpc("apps.get_dids", False) or []], None, True)

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
        items = [self.parse_subaccount(h) for h in hits]
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
        return self.parse_subaccount(result)

    def update_subaccount(
        self, remote_id: str, *, name: str | None = None, usage_limit: Any = None
    ) -> RemoteSubaccount:
        if usage_limit is not None:
            raise NotSupported("Callr sub-accounts have no usage limit (credit is transferred instead).")
        if name is not None:
            # [I] SubAccount.EditProperties lists contact/params only; `account` (company) is the
            # part of SubAccount that holds the name, sent the same way as on create.
            self._rpc("account/sub.edit", remote_id, {"account": {"company": name}}, {})
        return self.parse_subaccount(self._rpc("account/sub.get", remote_id))

    # -- parsing ---------------------------------------------------------------------------------
    def parse_sms(self, raw: Any, *, inbound: bool | None = None) -> RemoteMessage:
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
            currency=self._currency if raw.get("b_customer_debit") not in (None, "") else "",
            parts=parts or None,
            encoding=str(raw.get("encoding") or ""),
            error=str(raw.get("status_error") or ""),
            raw=dict(raw),
        )

    def parse_cdr(self, raw: Any, direction: Direction, *, live: bool = False) -> RemoteCall:
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

    def parse_did(self, raw: dict[str, Any]) -> RemoteNumber:
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

    def parse_subaccount(self, raw: Any) -> RemoteSubaccount:
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

    # -- webhooks ---------------------------------------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> None:
        super().verify_webhook(request)
        # Several comma-separated secrets are tried, for rotation.
        secrets = [s.strip() for s in (self.connection.webhook_secret or "").split(",") if s.strip()]
        if not secrets:
            return  # the URL token is the only check; Callr signs only when given a secret
        given = request.headers.get("x-callr-hmacsignature", "")
        if not given:
            raise WebhookRejected("Callr webhook signature is missing.")
        algo_name = str(self.connection.options.get("hmac_algo") or "SHA256").upper()
        algo = HMAC_ALGOS.get(algo_name, hashlib.sha256)
        ok = False
        for secret in secrets:  # every one compared, so timing tells nothing
            expected = base64.b64encode(hmac.new(secret.encode(), request.body, algo).digest())
            ok |= hmac.compare_digest(expected, given.strip().encode())
        if not ok:
            raise WebhookRejected("Callr webhook signature does not match.")

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise Rejected("Callr webhook body is not JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise Rejected("Callr webhook has no event type.")
        etype = body["type"]
        data = body.get("data")
        event_id = str(body.get("event_id") or request.headers.get("x-callr-eventid") or "") or None
        event_at = parse_time(body.get("event_at")) if body.get("event_at") else None
        try:
            if etype == "sms.mo":
                if not isinstance(data, dict):
                    raise Rejected("Callr sms.mo has no data.")
                data = dict(data)
                data.setdefault("date_received", body.get("event_at"))
                if not data.get("date_creation") and not data.get("date_received"):
                    raise Rejected("Callr sms.mo has no date.")
                message = self.parse_sms(data, inbound=True)
                if not message.remote_id:
                    message.remote_id = f"evt-{event_id}"
                if not message.raw_status:
                    message.raw_status = "RECEIVED"
                return [InboundEvent(EventType.MESSAGE_INBOUND, event_id, message=message, raw=body)]
            if etype == "sms.mt.status_update":
                if not isinstance(data, dict) or not data.get("hash"):
                    raise Rejected("Callr status update has no SMS hash.")
                raw_status = str(data.get("status") or "")
                debit = data.get("b_customer_debit")
                update = MessageStatusUpdate(
                    remote_id=str(data["hash"]),
                    status=SMS_STATUS.get(raw_status.upper(), MessageStatus.UNKNOWN),
                    raw_status=raw_status,
                    occurred_at=_time(data.get("date_update")) or event_at,
                    error=str(data.get("status_error") or ""),
                    cost=from_cents(debit),  # cents with 2 decimals
                    currency=self._currency if debit not in (None, "") else "",
                )
                return [InboundEvent(EventType.MESSAGE_STATUS, event_id, status_update=update, raw=body)]
            match = re.fullmatch(r"call\.(inbound|outbound)_(start|hangup)", etype)
            if match:
                if not isinstance(data, dict):
                    raise Rejected("Callr call event has no data.")
                direction = Direction.INBOUND if match[1] == "inbound" else Direction.OUTBOUND
                call = self.parse_cdr(data, direction, live=match[2] == "start")
                return [InboundEvent(EventType.CALL_STATUS, event_id, call=call, raw=body)]
        except ValueError as exc:  # a garbage date or amount
            raise Rejected(f"Callr webhook is malformed: {exc}") from None
        # billing.*, did.*, media.*, job.* …: authentic, nothing to apply.
        return [InboundEvent(EventType.IGNORED, event_id, raw=body)]


def sign(secret: str, body: bytes, algo: str = "SHA256") -> str:
    """X-CALLR-HmacSignature for `body` (the simulator and tests use it)."""
    return base64.b64encode(hmac.new(secret.encode(), body, HMAC_ALGOS[algo.upper()]).digest()).decode()


__all__ = ["CallrAdapter", "sign"]
