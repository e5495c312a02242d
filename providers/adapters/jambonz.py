"""jambonz (self-hosted CPaaS): REST `/v1` with a Bearer API key, JSON in and out.

What the open-source API gives us (PROVIDER_NOTES §4, jambonz-swagger.yaml):
- calls: `RecentCalls` CDRs (paged by page number, newest first, in a time window) and
  `Calls/{sid}` for live calls; placing calls via `POST Accounts/{sid}/Calls`;
- SMS: `POST Accounts/{sid}/Messages` only. There is no message history endpoint, so
  messages arrive only through sends and the messaging webhook;
- numbers: `PhoneNumbers`; subaccounts: the accounts under a service provider (needs a
  service-provider-scoped key and `options["service_provider_sid"]`);
- no recordings listing, no costs, no balance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import phonenumbers

from .base import Adapter, Connection, SubaccountIdentity
from .errors import AuthFailed, Malformed, NotSupported, RateLimited, Rejected, Unavailable, WebhookRejected
from .http import retry_after_seconds
from .normalize import parse_int, parse_time, required_time
from .records import (
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
    RemoteMedia,
    RemoteMessage,
    RemoteNumber,
    RemoteSubaccount,
    SendResult,
    SmsRequest,
    WebhookRequest,
)

# jambonz call_status → normalized state. "trying" means the INVITE left but nothing rang yet.
CALL_STATES: dict[str, CallState] = {
    "queued": CallState.QUEUED,
    "trying": CallState.QUEUED,
    "ringing": CallState.RINGING,
    "alerting": CallState.RINGING,  # only in the swagger's Call enum
    "early-media": CallState.RINGING,
    "in-progress": CallState.IN_PROGRESS,
    "completed": CallState.COMPLETED,
    "failed": CallState.FAILED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
}
FINAL_CALL_STATES = {CallState.COMPLETED, CallState.FAILED, CallState.BUSY, CallState.NO_ANSWER}

# CDRs carry no call_status: the outcome of an unanswered call is in its final SIP status.
SIP_BUSY = {486, 600, 603}
SIP_NO_ANSWER = {408, 480, 487}  # 487: jambonz CANCELs an outbound INVITE on its timeout

# message verb actionHook statuses (the REST create has no delivery reports).
MESSAGE_STATUSES: dict[str, MessageStatus] = {
    "success": MessageStatus.SENT,
    "failure": MessageStatus.FAILED,
    "no carriers": MessageStatus.FAILED,
    "smpp configuration error": MessageStatus.FAILED,
    "system error": MessageStatus.FAILED,
}

SPEECH_DEFAULTS = {
    "speech_synthesis_vendor": "google",
    "speech_synthesis_language": "en-US",
    "speech_synthesis_voice": "en-US-Standard-C",
    "speech_recognizer_vendor": "google",
    "speech_recognizer_language": "en-US",
}
ACTION_TAG = "switchboard_action"  # where place_call parks the action; echoed as customerData
_SECRET_KEY = re.compile(r"secret|password|token", re.IGNORECASE)


def _utc_iso(dt: datetime) -> str:
    # Milliseconds, so a window ending "now" does not cut off the current second.
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(value: Any) -> datetime | None:
    """RFC 3339 strings (what the code returns) or epoch numbers (what the swagger says);
    epoch values past ~1973 in milliseconds are told apart by size."""
    if isinstance(value, bool) or value in (None, "", 0):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise Malformed(f"bad timestamp {value!r}") from None
    return parse_time(value)


_int = parse_int  # unreadable values raise Malformed (errors.py: the one parse-failure policy)


def e164(value: Any) -> str:
    """jambonz strips the leading '+' from stored numbers and SIP user parts; put it back
    on anything that is all digits. SIP URIs and user names pass through unchanged."""
    text = str(value or "").strip()
    digits = text[1:] if text.startswith("+") else text
    if digits.isdigit() and 6 <= len(digits) <= 15:
        return "+" + digits
    return text


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except Exception:  # unparsable or not a phone number
        return ""


def _scrub(data: dict[str, Any]) -> dict[str, Any]:
    """Drop secrets (webhook_secret, hook passwords) before a payload is stored as raw."""
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if _SECRET_KEY.search(str(key)):
            continue
        clean[key] = _scrub(value) if isinstance(value, dict) else value
    return clean


def _hook_url(hook: Any) -> str:
    if isinstance(hook, dict):
        return str(hook.get("url") or "")
    return str(hook or "")


def verbs_for_action(action: dict[str, Any]) -> list[dict[str, Any]]:
    """Our CallRequest.action as jambonz verbs, for the call_hook reply."""
    verbs: list[dict[str, Any]] = []
    if action.get("say"):
        verbs.append({"verb": "say", "text": str(action["say"])})
    if action.get("play"):
        verbs.append({"verb": "play", "url": str(action["play"])})
    if action.get("connect"):
        target = e164(action["connect"])
        if target.startswith("sip:"):
            verbs.append({"verb": "dial", "target": [{"type": "sip", "sipUri": target}]})
        else:
            verbs.append({"verb": "dial", "target": [{"type": "phone", "number": target}]})
    if verbs and not action.get("connect"):
        verbs.append({"verb": "hangup"})
    return verbs


class JambonzAdapter(Adapter):
    code = "jambonz"
    name = "jambonz"
    default_base_url = "https://jambonz.example.com/v1"  # self-hosted: every account sets its own
    capabilities = frozenset(
        {
            Capability.SEND_SMS,
            Capability.PLACE_CALL,
            Capability.CALLS,
            Capability.NUMBERS,
            Capability.SUBACCOUNTS,
            Capability.CREATE_SUBACCOUNT,
            Capability.UPDATE_SUBACCOUNT,
            Capability.WEBHOOKS,
        }
    )
    credential_shapes = (("api_key", "account_sid"),)
    credential_labels = {"api_key": "API key", "account_sid": "Account SID"}
    webhook_kinds = ("call-status", "call", "sms")
    signs_webhooks = True
    call_status_kind = "call-status"
    answer_webhook_kind = "call"
    base_url_required = True  # self-hosted: default_base_url is only an example

    @classmethod
    def subaccount_identity(
        cls, parent_credentials: Callable[[], Mapping[str, str]], remote_id: str
    ) -> SubaccountIdentity:
        # A service provider's API key reaches every account below it by account_sid.
        return SubaccountIdentity(
            credentials={**parent_credentials(), "account_sid": remote_id}, options={"account_sid": remote_id}
        )

    @classmethod
    def needs_answer_url(cls, options: Mapping[str, Any]) -> bool:
        # Without an application of its own, the call asks our answer URL for its verbs.
        return not (options or {}).get("application_sid")

    calls_page_size: ClassVar[int] = 100  # RecentCalls allows count ≤ 500
    numbers_page_size: ClassVar[int] = 100
    # A finished sync restarts this far back: CDRs are written when a call ends but are
    # timed at its start, so a long call lands behind the previous window's end.
    lookback: ClassVar[timedelta] = timedelta(hours=48)
    signature_tolerance: ClassVar[int] = 300  # seconds, as @jambonz/sdk verifySignature

    def __init__(self, connection: Connection, http: Any):
        super().__init__(connection, http)
        self.account_sid = str(
            connection.credentials.get("account_sid") or connection.remote_account_id or ""
        ).strip()

    # -- helpers -----------------------------------------------------------------------
    @classmethod
    def http_headers(cls, connection: Connection) -> dict[str, str]:
        token = str(connection.credentials.get("api_key") or "").strip()
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def now(self) -> datetime:
        return datetime.now(UTC)

    def _account_path(self, suffix: str = "") -> str:
        if not self.account_sid:
            raise Rejected("The jambonz connection has no account_sid.")
        return f"Accounts/{self.account_sid}{suffix}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        expect_json: bool = True,
    ) -> Any:
        response = self.http.request(method, path, params=params, json_body=json_body)
        return self._interpret(response, expect_json=expect_json)

    @staticmethod
    def _error_text(response: httpx.Response, default: str) -> str:
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
            # express-rate-limit and passport answer in plain text; HTML pages are noise.
            return text[:200] if text and not text.startswith("<") else default
        if isinstance(body, dict):
            for key in ("msg", "message", "error"):
                if body.get(key):
                    return str(body[key])[:500]
        return default

    def _interpret(self, response: httpx.Response, *, expect_json: bool = True) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if not expect_json or status == 204:
                return None
            try:
                return response.json()
            except ValueError:
                raise Unavailable("jambonz sent a malformed response.", status=status) from None
        if status == 401:
            raise AuthFailed("jambonz refused the API key.", status=status)
        if status == 403:
            # {"status":"fail","message":"insufficient privileges"}: the key's scope is too narrow.
            raise AuthFailed(self._error_text(response, "insufficient privileges"), status=status)
        if status == 404:
            raise Rejected(self._error_text(response, "not found"), status=status, code="not_found")
        if status == 429:
            raise RateLimited(
                "jambonz rate limit reached.", retry_after=self._retry_after(response), status=status
            )
        if status == 480:
            # "no available feature servers" (call) or an SMPP refusal (message): the request
            # was answered and nothing was started, so it is safe to try again later.
            body = self._json_or_none(response)
            code = str(body.get("smpp_err_code") or "") if isinstance(body, dict) else ""
            raise Unavailable(
                self._error_text(response, "jambonz is temporarily unavailable."),
                request_sent=False,
                status=status,
                code=code or None,
            )
        if status >= 500:
            raise Unavailable(self._error_text(response, f"jambonz error {status}."), status=status)
        raise Rejected(self._error_text(response, f"jambonz rejected the request ({status})."), status=status)

    @staticmethod
    def _json_or_none(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        seconds = retry_after_seconds(response)
        if seconds is not None:
            return seconds
        # express-rate-limit headers: draft-6 `RateLimit-Reset: <s>`, draft-7 `RateLimit: …, reset=<s>`.
        reset = response.headers.get("ratelimit-reset")
        if reset is None:
            match = re.search(r"reset=(\d+(?:\.\d+)?)", response.headers.get("ratelimit", ""))
            reset = match.group(1) if match else None
        try:
            return max(0.0, float(reset)) if reset is not None else None
        except ValueError:
            return None

    @staticmethod
    def _cursor(cursor: str | None) -> dict[str, Any]:
        if not cursor:
            return {}
        try:
            state = json.loads(cursor)
        except ValueError:
            raise Rejected("Invalid jambonz cursor.") from None
        if not isinstance(state, dict):
            raise Rejected("Invalid jambonz cursor.")
        return state

    @staticmethod
    def _dump(state: dict[str, Any]) -> str:
        return json.dumps(state, separators=(",", ":"), sort_keys=True)

    # -- account ------------------------------------------------------------------------
    def check_credentials(self) -> AccountInfo:
        data = self._call("GET", self._account_path())
        if not isinstance(data, dict):
            raise Unavailable("jambonz sent a malformed response.")
        return AccountInfo(
            remote_id=str(data.get("account_sid") or self.account_sid),
            name=str(data.get("name") or ""),
            currency="",  # no money in open-source jambonz
            raw=_scrub(data),
        )

    # -- calls ------------------------------------------------------------------------
    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        """RecentCalls pages by page number, newest first. New CDRs would shift page
        numbers under a walk, so a walk pins `end` at the time of its first page and only
        moves `page`; each page's cursor holds {start, end, page} to resume after it. A
        CDR inserted inside the window mid-walk only causes a repeat (upserted away); the
        next sync's lookback picks up anything it pushed past us. When a walk is done the
        cursor is {start: end - lookback}, where the next sync begins."""
        state = self._cursor(cursor)
        start: str | None = state.get("start")
        end: str = state.get("end") or _utc_iso(self.now())
        page = int(state.get("page") or 1)
        count = self.calls_page_size
        params: dict[str, Any] = {"page": page, "count": count, "end": end}
        if start:
            params["start"] = start
        body = self._call("GET", self._account_path("/RecentCalls"), params=params)
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise Unavailable("jambonz sent a malformed response.")
        rows = body.get("data") or []
        calls = [self._cdr_to_call(row) for row in rows if isinstance(row, dict)]
        total = _int(body.get("total"))
        # The code echoes `page_size`; the swagger documents `batch`. Either, or our count.
        size = _int(body.get("page_size")) or _int(body.get("batch")) or count
        seen = (page - 1) * size + len(rows)
        done = not rows or len(rows) < size or (total is not None and seen >= total)
        if done:
            next_start = required_time(end) - self.lookback
            return Page(calls, self._dump({"start": _utc_iso(next_start)}), True)
        return Page(calls, self._dump({"start": start, "end": end, "page": page + 1}), False)

    def get_call(self, remote_id: str) -> RemoteCall:
        """The CDR when there is one (it has times and the outcome); else the live call."""
        body = self._call(
            "GET",
            self._account_path("/RecentCalls"),
            params={"page": 1, "count": 25, "filter": remote_id},
        )
        rows = body.get("data") if isinstance(body, dict) else None
        for row in rows or []:
            if isinstance(row, dict) and row.get("call_sid") == remote_id:
                return self._cdr_to_call(row)
        data = self._call("GET", self._account_path(f"/Calls/{remote_id}"))
        if not isinstance(data, dict):
            raise Unavailable("jambonz sent a malformed response.")
        return self._live_to_call(data, occurred_at=self.now())

    def _cdr_to_call(self, row: dict[str, Any]) -> RemoteCall:
        try:
            attempted = _time(row.get("attempted_at") or row.get("time"))
            answered_at = _time(row.get("answered_at"))
            ended_at = _time(row.get("terminated_at"))
        except (TypeError, ValueError):
            raise Unavailable("jambonz sent a malformed call record.") from None
        if not row.get("call_sid") or attempted is None:
            raise Unavailable("jambonz sent a malformed call record.")
        sip_status = _int(row.get("sip_status"))
        answered = row.get("answered") in (True, 1, "true", "1")
        if row.get("call_status"):
            raw_state = str(row["call_status"])
            state = CALL_STATES.get(raw_state, CallState.UNKNOWN)
        elif answered:
            raw_state, state = "completed", CallState.COMPLETED
        elif sip_status in SIP_BUSY:
            raw_state, state = "busy", CallState.BUSY
        elif sip_status in SIP_NO_ANSWER:
            raw_state, state = "no-answer", CallState.NO_ANSWER
        elif sip_status is not None and sip_status >= 400:
            raw_state, state = "failed", CallState.FAILED
        else:
            raw_state, state = str(sip_status or ""), CallState.UNKNOWN
        return RemoteCall(
            remote_id=str(row["call_sid"]),
            direction=Direction.OUTBOUND if row.get("direction") == "outbound" else Direction.INBOUND,
            from_number=e164(row.get("from")),
            to_number=e164(row.get("to")),
            state=state,
            raw_state=raw_state,
            created_at=attempted,
            answered_at=answered_at if answered else None,
            ended_at=ended_at,
            duration=_int(row.get("duration")) if answered else 0,
            cost=None,
            currency="",
            raw=_scrub(row),
        )

    def _live_to_call(self, data: dict[str, Any], *, occurred_at: datetime) -> RemoteCall:
        """A live Call object or a call hook payload. These carry no timestamps, so the
        event time (the signature's `t`, or now) stands in."""
        if not data.get("call_sid"):
            raise Rejected("jambonz call payload without call_sid.")
        raw_state = str(data.get("call_status") or "")
        state = CALL_STATES.get(raw_state, CallState.UNKNOWN)
        duration = _int(data.get("duration"))
        created = _time(data.get("attempted_at") or data.get("timestamp")) or occurred_at
        answered_at = _time(data.get("answered_at"))
        ended_at = _time(data.get("terminated_at"))
        if state == CallState.IN_PROGRESS and answered_at is None:
            answered_at = occurred_at
        if state in FINAL_CALL_STATES and ended_at is None:
            ended_at = occurred_at
        if state == CallState.COMPLETED and duration is not None:
            answered_at = answered_at or occurred_at - timedelta(seconds=duration)
        return RemoteCall(
            remote_id=str(data["call_sid"]),
            direction=Direction.OUTBOUND if data.get("direction") == "outbound" else Direction.INBOUND,
            from_number=e164(data.get("from")),
            to_number=e164(data.get("to")),
            state=state,
            raw_state=raw_state,
            created_at=created,
            answered_at=answered_at,
            ended_at=ended_at,
            duration=duration,
            raw=_scrub(data),
        )

    # -- numbers -------------------------------------------------------------------------
    def list_numbers(self, cursor: str | None) -> Page[RemoteNumber]:
        """PhoneNumbers answers a bare array, or {total,page,page_size,data} when paged.
        A full listing each sync: the done cursor is None so the next sync starts over."""
        page = int(self._cursor(cursor).get("page") or 1)
        params = {"account_sid": self.account_sid, "page": page, "page_size": self.numbers_page_size}
        body = self._call("GET", "PhoneNumbers", params=params)
        if isinstance(body, list):
            rows, done = body, True
        elif isinstance(body, dict) and isinstance(body.get("data"), list):
            rows = body["data"]
            total = _int(body.get("total"))
            size = _int(body.get("page_size")) or self.numbers_page_size
            done = not rows or len(rows) < size or (total is not None and page * size >= total)
        else:
            raise Unavailable("jambonz sent a malformed response.")
        numbers = [
            self._number(row)
            for row in rows
            # An SP-scoped key may ignore the filter and list the whole provider's numbers.
            if isinstance(row, dict) and row.get("account_sid") in (None, "", self.account_sid)
        ]
        return Page(numbers, None if done else self._dump({"page": page + 1}), done)

    def _number(self, row: dict[str, Any]) -> RemoteNumber:
        number = e164(row.get("number"))
        return RemoteNumber(
            remote_id=str(row.get("phone_number_sid") or number),
            number=number,
            country=_country(number),
            capabilities=["voice", "sms"],
            category="voip",
            active=True,
            name="",
            raw=_scrub(row),
        )

    # -- subaccounts ------------------------------------------------------------------------
    def _service_provider_sid(self) -> str:
        sid = str(self.connection.options.get("service_provider_sid") or "").strip()
        if not sid:
            raise NotSupported(
                "jambonz subaccounts need a service-provider API key and the service_provider_sid option."
            )
        return sid

    def list_subaccounts(self, cursor: str | None) -> Page[RemoteSubaccount]:
        sp_sid = self._service_provider_sid()
        body = self._call("GET", f"ServiceProviders/{sp_sid}/Accounts")
        if not isinstance(body, list):
            raise Unavailable("jambonz sent a malformed response.")
        items = [
            self._subaccount(row)
            for row in body
            if isinstance(row, dict) and row.get("account_sid") and row.get("account_sid") != self.account_sid
        ]
        return Page(items, None, True)

    def _subaccount(self, row: dict[str, Any]) -> RemoteSubaccount:
        active = row.get("is_active")
        return RemoteSubaccount(
            remote_id=str(row.get("account_sid")),
            name=str(row.get("name") or ""),
            active=True if active is None else bool(int(active)) if str(active).isdigit() else bool(active),
            created_at=_time(row.get("created_at")),
            raw=_scrub(row),
        )

    def create_subaccount(self, name: str, usage_limit: Any = None) -> RemoteSubaccount:
        if usage_limit is not None:
            raise NotSupported("jambonz accounts have no spending limit.")
        sp_sid = self._service_provider_sid()
        body = self._call("POST", "Accounts", json_body={"name": name, "service_provider_sid": sp_sid})
        if not isinstance(body, dict) or not body.get("sid"):
            raise Unavailable("jambonz sent a malformed response.")
        sid = str(body["sid"])
        sub = RemoteSubaccount(remote_id=sid, name=name, active=True, raw={"account_sid": sid, "name": name})
        # An account-scoped key lets the new account be connected on its own. The account
        # exists already, so a failure here must not raise (a retry would create another).
        try:
            key = self._call("POST", "ApiKeys", json_body={"account_sid": sid})
        except (Rejected, AuthFailed, Unavailable, RateLimited) as exc:
            sub.raw["api_key_error"] = exc.message
        else:
            if isinstance(key, dict) and key.get("token"):
                sub.credentials = {"api_key": str(key["token"]), "account_sid": sid}
        return sub

    def update_subaccount(
        self, remote_id: str, *, name: str | None = None, usage_limit: Any = None
    ) -> RemoteSubaccount:
        if usage_limit is not None:
            raise NotSupported("jambonz accounts have no spending limit.")
        sp_sid = self._service_provider_sid()
        if name is not None:
            # The swagger's PUT body is the Account schema, which requires these three.
            body = {"account_sid": remote_id, "name": name, "service_provider_sid": sp_sid}
            self._call("PUT", f"Accounts/{remote_id}", json_body=body, expect_json=False)
        data = self._call("GET", f"Accounts/{remote_id}")
        if not isinstance(data, dict):
            raise Unavailable("jambonz sent a malformed response.")
        return self._subaccount(data)

    # -- sending ------------------------------------------------------------------------------
    def send_sms(self, request: SmsRequest) -> SendResult:
        if request.media_urls:
            raise NotSupported("jambonz MMS sending is not supported by this adapter.")
        body: dict[str, Any] = {"from": request.from_number, "to": request.to_number, "text": request.body}
        if self.connection.options.get("sms_provider"):
            body["provider"] = str(self.connection.options["sms_provider"])
        data = self._call("POST", self._account_path("/Messages"), json_body=body)
        if not isinstance(data, dict) or not data.get("sid"):
            raise Unavailable("jambonz sent a malformed response.")
        # 201 means the carrier took it; jambonz sends no delivery reports for REST sends.
        return SendResult(
            remote_id=str(data["sid"]), status=MessageStatus.SENT, raw_status="sent", parts=None, raw=data
        )

    def place_call(self, request: CallRequest) -> SendResult:
        body: dict[str, Any] = {
            "from": request.from_number,
            "to": {"type": "phone", "number": request.to_number},
            "timeout": int(request.timeout),
        }
        application_sid = str(self.connection.options.get("application_sid") or "")
        if request.answer_url:
            # Without an application, jambonz needs all five speech defaults.
            body["call_hook"] = {"url": request.answer_url}
            options = self.connection.options
            body.update({key: str(options.get(key) or value) for key, value in SPEECH_DEFAULTS.items()})
        elif application_sid:
            body["application_sid"] = application_sid
        else:
            raise Rejected("A jambonz call needs an answer URL or the application_sid option.")
        if request.status_url:
            body["call_status_hook"] = {"url": request.status_url}
        if request.action:
            # Echoed back as customerData on the call_hook, where it becomes the verbs.
            body["tag"] = {ACTION_TAG: request.action}
        data = self._call("POST", self._account_path("/Calls"), json_body=body)
        if not isinstance(data, dict) or not data.get("sid"):
            raise Unavailable("jambonz sent a malformed response.")
        return SendResult(remote_id=str(data["sid"]), status=CallState.QUEUED, raw_status="trying", raw=data)

    # -- webhooks ---------------------------------------------------------------------------
    def _secrets(self) -> list[str]:
        return [s.strip() for s in (self.connection.webhook_secret or "").split(",") if s.strip()]

    @staticmethod
    def _signature_parts(header: str) -> tuple[int | None, list[str]]:
        t: int | None = None
        sigs: list[str] = []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                try:
                    t = _int(value)
                except Malformed:
                    raise WebhookRejected("Malformed Jambonz-Signature header.") from None
            elif key == "v1" and value:
                sigs.append(value.strip())
        return t, sigs

    def verify_webhook(self, request: WebhookRequest) -> None:
        """Jambonz-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}." + raw body)>.
        Several comma-separated secrets are tried, for rotation."""
        header = request.headers.get("jambonz-signature", "")
        if not header:
            raise WebhookRejected("Missing Jambonz-Signature header.")
        secrets = self._secrets()
        if not secrets:
            raise WebhookRejected("No jambonz webhook secret is configured for this account.")
        t, sigs = self._signature_parts(header)
        if t is None or not sigs:
            raise WebhookRejected("Malformed Jambonz-Signature header.")
        if abs(time.time() - t) > self.signature_tolerance:
            raise WebhookRejected("Jambonz-Signature timestamp is outside the tolerance.")
        message = f"{t}.".encode() + request.body
        expected = [hmac.new(s.encode(), message, hashlib.sha256).hexdigest() for s in secrets]
        # Compare every pair so timing says nothing about which secret or signature matched.
        ok = False
        for sig in sigs:
            for want in expected:
                ok |= hmac.compare_digest(sig.lower().encode(), want.encode())
        if not ok:
            raise WebhookRejected("Jambonz-Signature does not match.")
        super().verify_webhook(request)

    def _event_time(self, request: WebhookRequest) -> datetime:
        t, _ = self._signature_parts(request.headers.get("jambonz-signature", ""))
        return datetime.fromtimestamp(t, tz=UTC) if t else self.now()

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        try:
            payload = request.json()
        except (ValueError, UnicodeDecodeError):
            raise Rejected("jambonz webhook body is not JSON.") from None
        if not isinstance(payload, dict):
            raise Rejected("jambonz webhook body is not a JSON object.")
        at = self._event_time(request)
        if kind == "call-status":
            call = self._live_to_call(payload, occurred_at=at)
            event_id = f"{call.remote_id}:{call.raw_state}:{payload.get('sip_status', '')}"
            return [InboundEvent(EventType.CALL_STATUS, event_id, call=call, raw=_scrub(payload))]
        if kind == "call":
            call = self._live_to_call(payload, occurred_at=at)
            if call.state in (CallState.QUEUED, CallState.UNKNOWN):
                # A new call reaching the app: it is ringing as far as we are concerned.
                call.state = CallState.RINGING
            customer = payload.get("customerData") or payload.get("customer_data") or {}
            action = customer.get(ACTION_TAG) if isinstance(customer, dict) else None
            # jambonz wants a JSON array of verbs; the contract types reply as a dict, so
            # this list is only set when place_call parked an action in the tag.
            reply: Any = verbs_for_action(action) if isinstance(action, dict) else None
            event_id = f"{call.remote_id}:call_hook:{call.raw_state}"
            return [
                InboundEvent(
                    EventType.CALL_STATUS, event_id, call=call, reply=reply or None, raw=_scrub(payload)
                )
            ]
        if kind == "sms":
            return [self._sms_event(payload, at)]
        raise Rejected(f"Unknown jambonz webhook kind {kind!r}.")

    def _sms_event(self, payload: dict[str, Any], at: datetime) -> InboundEvent:
        sid = str(payload.get("message_sid") or "")
        if not sid:
            raise Rejected("jambonz message payload without message_sid.")
        if "message_status" in payload and "text" not in payload:
            # A message verb's actionHook: the outcome of a message we sent from a call app.
            raw_status = str(payload.get("message_status") or "")
            update = MessageStatusUpdate(
                remote_id=sid,
                status=MESSAGE_STATUSES.get(raw_status, MessageStatus.UNKNOWN),
                raw_status=raw_status,
                occurred_at=at,
                error=str(payload.get("message_failure_reason") or ""),
            )
            return InboundEvent(
                EventType.MESSAGE_STATUS, f"{sid}:{raw_status}", status_update=update, raw=_scrub(payload)
            )
        if not payload.get("from") or not payload.get("to"):
            raise Rejected("jambonz message payload without from/to.")
        media = [m for m in payload.get("media") or [] if isinstance(m, str) and m]
        message = RemoteMessage(
            remote_id=sid,
            kind=MessageKind.MMS if media else MessageKind.SMS,
            direction=Direction.INBOUND,
            from_number=e164(payload.get("from")),
            to_number=e164(payload.get("to")),
            body=str(payload.get("text") or ""),
            status=MessageStatus.RECEIVED,
            raw_status="received",
            created_at=at,
            media=[RemoteMedia(remote_id=url, url=url) for url in media],
            raw=_scrub(payload),
        )
        return InboundEvent(EventType.MESSAGE_INBOUND, sid, message=message, raw=_scrub(payload))
