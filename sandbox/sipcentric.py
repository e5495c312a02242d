"""Sipcentric API v1 simulator (served at `/sipcentric/api/v1/...`).

Seeded history is computed per index, never stored: SMS `i` (0 = newest) comes from
`account.rng("sms", i)` and `history_time`, so an account of a million messages pages in
flat memory. Live records (sends, placed calls, emitted inbound SMS) live in
`account.state` and sit in front of the seeded ones (they are newer). Lists are newest
first. Every object has `type` and `uri`.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .sim import ProviderSim, SimAccount, SimRequest, SimResponse, history_time

SPAN = timedelta(days=365)  # seeded history covers the year before the account's anchor
MAX_PAGE_SIZE = 200
SMS_ID_BASE = 100_000
CALL_ID_BASE = 5_000_000
REC_ID_BASE = 9_000_000
LIVE_ID_BASE = 50_000_000
RECORDING_EVERY = 3  # every third seeded call is answered and recorded
BODIES = (
    "Your appointment is confirmed for tomorrow at 10:00.",
    "Thanks, see you then!",
    "Can you call me back when you get a chance?",
    "Order #{n} has been dispatched.",
    "Reminder: your invoice is due on Friday.",
    "Yes please",
    "Running 10 minutes late, sorry.",
    "Your verification code is {n}.",
)


def fmt_time(dt: datetime) -> str:
    """`2014-03-10T13:37:00.000+0000`, as the API writes it."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def parse_filter_time(value: str) -> datetime:
    text = value.strip().replace(" ", "+")  # an unescaped "+" in a query arrives as a space
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def national(number: str) -> str:
    """`+447700900123`, `447700900123` or `00447700900123` → `07700900123`."""
    digits = re.sub(r"[\s().-]", "", number or "")
    if digits.startswith("+44"):
        return "0" + digits[3:]
    if digits.startswith("0044"):
        return "0" + digits[4:]
    if digits.startswith("44") and len(digits) == 12:
        return "0" + digits[2:]
    return digits


def wav_bytes(seed: int, size: int) -> bytes:
    """A deterministic mono 8 kHz 16-bit WAV of exactly `size` bytes (a short tone)."""
    frames = max(0, (size - 44) // 2)
    freq = 300 + seed % 500
    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * n / 8000))) for n in range(frames)
    )
    header = struct.pack(
        "<4sI4s4sIHHIIHH", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1, 8000, 16000, 2, 16
    ) + struct.pack("<4sI", b"data", len(pcm))
    return (header + pcm).ljust(size, b"\0")


def index_range(account: SimAccount, n: int, after: datetime | None, before: datetime | None) -> range:
    """Seeded indices k in [0, n) with after <= history_time(k) <= before (inclusive)."""
    if n <= 0:
        return range(0)
    step = SPAN / n
    lo, hi = 0, n - 1
    if before is not None:
        lo = max(0, math.ceil((account.anchor - before) / step - 1) - 1)
        while lo < n and history_time(account, lo, SPAN, n) > before:
            lo += 1
    if after is not None:
        hi = min(n - 1, math.floor((account.anchor - after) / step - 1) + 1)
        while hi >= 0 and history_time(account, hi, SPAN, n) < after:
            hi -= 1
    return range(lo, hi + 1) if hi >= lo else range(0)


class SipcentricSim(ProviderSim):
    code = "sipcentric"
    root = "/api/v1"

    # -- accounts -----------------------------------------------------------------------
    def setup_account(self, account: SimAccount) -> None:
        rng = account.rng("numbers")
        numbers = []
        for i in range(rng.randint(3, 6)):
            mobile = i % 3 == 2
            number = f"07400900{rng.randint(0, 999):03d}" if mobile else f"0121496{rng.randint(0, 9999):04d}"
            numbers.append(
                {
                    "id": str(40 + i),
                    "number": number,
                    "identifier": "DID",
                    "endpoint": str(101 + i % 3),
                    "smsEnabled": i == 0 or rng.random() < 0.6,
                    "smsNotificationUrl": None,  # None: the account's webhook base
                    "created": fmt_time(account.anchor - SPAN - timedelta(days=30 * (i + 1))),
                }
            )
        account.state.update(
            numbers=numbers,
            endpoints=[
                {"id": "101", "type": "phone", "shortNumber": "201", "name": "Reception"},
                {"id": "102", "type": "phone", "shortNumber": "202", "name": "Sales desk"},
                {"id": "103", "type": "ivr", "shortNumber": "001", "name": "Main IVR"},
            ],
            callerids=[{"id": "114", "number": "Switchboard", "allowCalls": False, "allowSms": True}],
            balance=round(account.rng("balance").uniform(20, 500), 3),
            account_type="PREPAID",
            sms=[],  # live messages, oldest first
            calls=[],  # live calls, oldest first
            next_id=LIVE_ID_BASE,
            rate_limit_per_hour=None,  # e.g. 1200 to turn on 429s
            rate_window=[0.0, 0],
        )

    def authenticate(self, request: SimRequest) -> SimAccount | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return self.sandbox.find_account(self.code, username=user, password=password)

    def endpoint(self, request: SimRequest) -> str:
        # "GET /customers/me/sms/12" → "GET /customers/*/sms/*", stable for fault rules.
        path = re.sub(r"\.(json|wav)$", "", request.path)
        path = re.sub(r"^/api/v1", "", path)
        path = re.sub(r"^/customers/[^/]+", "/customers/*", path)
        path = re.sub(r"/\d+$", "/*", path)
        return f"{request.method} {path}"

    # -- formats ------------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> SimResponse:
        return SimResponse.json({"errors": [{"message": message}]}, status)

    def malformed_response(self) -> SimResponse:
        return SimResponse(
            200, b'{"totalItems": 12, "items": [{"type": "smsmess', {"content-type": "application/json"}
        )

    def _root(self, request: SimRequest) -> str:
        return f"http://{request.headers.get('host', 'sandbox')}/sipcentric/api/v1"

    # -- dispatch -----------------------------------------------------------------------
    def handle(self, request: SimRequest) -> SimResponse:
        account = self.authenticate(request)
        if account is None:
            response = SimResponse.json({"errors": [{"message": "Authentication required."}]}, 401)
            response.headers["www-authenticate"] = 'Basic realm="Sipcentric API"'
            return response
        limited = self._rate_limit(account)
        if limited is not None:
            return limited
        response = self._route(account, request)
        response.headers.update(self._rate_headers(account))
        return response

    def _rate_limit(self, account: SimAccount) -> SimResponse | None:
        window = account.state["rate_window"]
        now = time.time()
        if now - window[0] >= 3600:
            window[0], window[1] = now, 0
        window[1] += 1
        limit = account.state.get("rate_limit_per_hour")
        if limit and window[1] > limit:
            response = SimResponse.json({"errors": [{"message": "Too many requests."}]}, 429)
            response.headers.update(self._rate_headers(account))
            return response
        return None

    def _rate_headers(self, account: SimAccount) -> dict[str, str]:
        start, used = account.state["rate_window"]
        limit = account.state.get("rate_limit_per_hour") or 1200
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - used)),
            "x-ratelimit-reset": str(max(0, int(start + 3600 - time.time()))),
        }

    def _route(self, authed: SimAccount, request: SimRequest) -> SimResponse:
        path = request.path
        if path.startswith("/api/v1"):
            path = path[len("/api/v1") :]
        wav = path.endswith(".wav") or "audio/wav" in request.headers.get("accept", "")
        path = re.sub(r"\.(json|wav)$", "", path).rstrip("/")
        parts = path.strip("/").split("/") if path.strip("/") else []
        root = self._root(request)
        method = request.method
        if method == "POST" and request.query.get("_method"):
            method = request.query["_method"].upper()
        if parts == ["customers"] and method == "GET":
            customers = [authed, *self._children(authed)]
            return self._paged(request, [self._customer(a, root) for a in customers], f"{root}/customers")
        if len(parts) < 2 or parts[0] != "customers":
            return self._not_found()
        account = self._target(authed, parts[1])
        if account is None:
            return self._not_found()
        cid = parts[1]
        base = f"{root}/customers/{cid}"
        rest = parts[2:]
        if not rest and method == "GET":
            return SimResponse.json(self._customer(account, root, cid))
        resource, item_id = rest[0] if rest else "", rest[1] if len(rest) > 1 else None
        if len(rest) > 2:
            return self._not_found()
        handler = getattr(self, f"_{resource}_{method.lower()}", None)
        if handler is None:
            allowed = any(hasattr(self, f"_{resource}_{m}") for m in ("get", "post"))
            return self._not_found() if not allowed else self._error(405, "Method not allowed.")
        if method == "GET":
            return (
                handler(account, request, base, item_id, wav)
                if resource == "recordings"
                else (handler(account, request, base, item_id))
            )
        if item_id is not None:
            return self._error(405, "Method not allowed.")
        return handler(account, request, base)

    def _children(self, account: SimAccount) -> list[SimAccount]:
        return [a for a in self.sandbox.accounts.get(self.code, []) if a.parent is account]

    def _target(self, authed: SimAccount, cid: str) -> SimAccount | None:
        if cid in ("me", authed.remote_id):
            return authed
        return next((a for a in self._children(authed) if a.remote_id == cid), None)

    def _error(self, status: int, message: str) -> SimResponse:
        return SimResponse.json({"errors": [{"message": message}]}, status)

    def _not_found(self) -> SimResponse:
        return self._error(404, "Resource not found.")

    def _invalid(self, errors: list[dict[str, str]]) -> SimResponse:
        return SimResponse.json({"validationErrors": errors}, 400)

    def _customer(self, account: SimAccount, root: str, cid: str | None = None) -> dict[str, Any]:
        rng = account.rng("customer")
        me = f"{root}/customers/{cid or account.remote_id}"
        return {
            "type": "customer",
            "id": account.remote_id,
            "uri": f"{root}/customers/{account.remote_id}",
            "created": fmt_time(account.anchor - SPAN - timedelta(days=400)),
            "company": f"{rng.choice(['Bloggs', 'Acme', 'Initech', 'Globex'])} {rng.randint(1, 99)} Ltd",
            "firstName": "Fred",
            "lastName": "Bloggs",
            "telephone": account.state["numbers"][0]["number"],
            "email": "contact@example.com",
            "address1": "60 Cleveland St",
            "city": "London",
            "postcode": "W1T 4JZ",
            "accountType": "business",
            "country": "GB",
            "links": {
                k: f"{me}/{v}"
                for k, v in (
                    ("recordings", "recordings"),
                    ("phoneNumbers", "phonenumbers"),
                    ("sms", "sms"),
                    ("creditStatus", "creditstatus"),
                    ("calls", "calls"),
                    ("endpoints", "endpoints"),
                    ("outgoingCallerIds", "outgoingcallerids"),
                )
            },
        }

    # -- paging -------------------------------------------------------------------------
    def _page_args(self, request: SimRequest) -> tuple[int, int]:
        try:
            page = max(1, int(request.query.get("page") or 1))
            size = max(1, min(MAX_PAGE_SIZE, int(request.query.get("pageSize") or 20)))
        except ValueError:
            page, size = 1, 20
        return page, size

    def _envelope(self, request: SimRequest, url: str, total: int, items: list[Any]) -> dict[str, Any]:
        page, size = self._page_args(request)
        extra = {k: v for k, v in request.query.items() if k not in ("page", "pageSize")}
        data: dict[str, Any] = {"totalItems": total, "pageSize": size, "page": page, "items": items}
        if page > 1:
            data["prevPage"] = f"{url}?{urlencode({**extra, 'pageSize': size, 'page': page - 1})}"
        if page * size < total:
            data["nextPage"] = f"{url}?{urlencode({**extra, 'pageSize': size, 'page': page + 1})}"
        return data

    def _paged(self, request: SimRequest, items: list[Any], url: str) -> SimResponse:
        page, size = self._page_args(request)
        chunk = items[(page - 1) * size : page * size]
        return SimResponse.json(self._envelope(request, url, len(items), chunk))

    def _merged_page(
        self,
        request: SimRequest,
        url: str,
        live: list[Any],
        seeded: range,
        make: Any,
        render: Any = None,
    ) -> SimResponse:
        """Live records (newest first) in front of seeded indices, paged lazily: only the
        items on the requested page are built (and, for live ones, rendered)."""
        page, size = self._page_args(request)
        start, stop = (page - 1) * size, page * size
        items = [render(r) if render else r for r in live[start:stop]]
        if len(items) < size:
            first = max(0, start - len(live))
            items += [make(k) for k in seeded[first : first + size - len(items)]]
        return SimResponse.json(self._envelope(request, url, len(live) + len(seeded), items))

    def _time_filters(self, request: SimRequest) -> tuple[datetime | None, datetime | None] | SimResponse:
        try:
            after = (
                parse_filter_time(request.query["createdAfter"])
                if request.query.get("createdAfter")
                else None
            )
            before = (
                parse_filter_time(request.query["createdBefore"])
                if request.query.get("createdBefore")
                else None
            )
        except ValueError:
            return self._invalid([{"field": "createdAfter", "message": "must be an ISO 8601 date/time"}])
        return after, before

    # -- seeded records -----------------------------------------------------------------
    def _counterpart(self, rng: Any) -> str:
        # 07400 9xx xxx: a valid UK mobile range (Ofcom's 07700 900xxx drama range is not
        # a valid number, so replies to it were refused).
        return f"07400900{rng.randint(0, 999):03d}"

    def _seeded_sms(self, account: SimAccount, base: str, i: int) -> dict[str, Any]:
        rng = account.rng("sms", i)
        created = history_time(account, i, SPAN, account.size)
        own = rng.choice(account.state["numbers"])["number"]
        other = self._counterpart(rng)
        inbound = rng.random() < 0.4
        body = rng.choice(BODIES).format(n=rng.randint(1000, 999999))
        sms_id = str(SMS_ID_BASE + account.size - 1 - i)
        item: dict[str, Any] = {
            "type": "smsmessage",
            "id": sms_id,
            "uri": f"{base}/sms/{sms_id}",
            "created": fmt_time(created),
            "direction": "IN" if inbound else "OUT",
            "from": other if inbound else own,
            "to": own if inbound else other,
            "body": body,
        }
        if inbound:
            item.update(deliveryStatus=0, cost=0)
        else:
            roll = rng.random()
            send, delivery = (
                ("FAILED", 0)
                if roll < 0.03
                else ("SENT", 16)
                if roll < 0.06
                else ("SENT", 8)
                if roll < 0.12
                else ("SENT", 1)
            )
            item.update(sendStatus=send, deliveryStatus=delivery, cost=0.04 if len(body) <= 160 else 0.08)
        return item

    def _call_count(self, account: SimAccount) -> int:
        return account.size // 4

    def _seeded_call(self, account: SimAccount, base: str, k: int) -> dict[str, Any]:
        rng = account.rng("call", k)
        n = self._call_count(account)
        created = history_time(account, k, SPAN, n)
        inbound = k % 2 == 0
        own = rng.choice(account.state["numbers"])["number"]
        other = self._counterpart(rng) if rng.random() < 0.7 else f"0121496{rng.randint(0, 9999):04d}"
        outcome = (
            "ANSWERED"
            if k % RECORDING_EVERY == 0
            else rng.choice(["ANSWERED"] * 6 + ["NO_ANSWER", "BUSY", "FAILED"])
        )
        duration = rng.randint(5, 900) if outcome == "ANSWERED" else 0
        started = created - timedelta(seconds=duration + rng.randint(1, 20))
        call_id = f"ast01-{int(started.timestamp())}.{CALL_ID_BASE + k}"
        cost = round(duration / 60 * 0.02, 4) if not inbound and duration else 0
        return self._call_object(
            base, str(CALL_ID_BASE + n - 1 - k), created, inbound, other if inbound else own,
            own if inbound else other, started, outcome, duration, cost, call_id,
        )  # fmt: skip

    def _call_object(
        self,
        base: str,
        rest_id: str,
        created: datetime,
        inbound: bool,
        frm: str,
        to: str,
        started: datetime,
        outcome: str,
        duration: int,
        cost: float,
        call_id: str,
    ) -> dict[str, Any]:
        return {
            "type": "call",
            "id": rest_id,
            "uri": f"{base}/calls/{rest_id}",
            "created": fmt_time(created),
            "scope": "EXTERNAL",
            "direction": "IN" if inbound else "OUT",
            "from": frm,
            "to": to,
            "callStarted": fmt_time(started),
            "outcome": outcome,
            "duration": duration,
            "cost": cost,
            "callId": call_id,
            "linkedId": call_id,
            "links": {"recordings": f"{base}/recordings?{urlencode({'linkedId': call_id})}"},
        }

    def _seeded_recording(self, account: SimAccount, base: str, r: int) -> dict[str, Any]:
        call = self._seeded_call(account, base, r * RECORDING_EVERY)
        rec_id = str(REC_ID_BASE + self._recording_count(account) - 1 - r)
        return {
            "type": "recording",
            "id": rec_id,
            "uri": f"{base}/recordings/{rec_id}",
            "created": call["created"],
            "direction": call["direction"],
            "partyId": "201",
            "started": call["callStarted"],
            "size": 44 + 2 * account.rng("recording", r).randint(800, 4000),
            "callId": call["callId"],
            "linkedId": call["linkedId"],
            "endpoint": f"{base}/endpoints/101",
        }

    def _recording_count(self, account: SimAccount) -> int:
        n = self._call_count(account)
        return (n + RECORDING_EVERY - 1) // RECORDING_EVERY

    # -- live records -------------------------------------------------------------------
    def _new_id(self, account: SimAccount) -> str:
        account.state["next_id"] += 1
        return str(account.state["next_id"])

    def _live_sms(self, account: SimAccount, base: str, record: dict[str, Any], read: bool) -> dict[str, Any]:
        """A live message as it looks now. Sent messages move on as time passes or they are
        read: SENT/0 (the POST answer) → SENT/8 (carrier) → SENT/1 (delivered)."""
        item = {"type": "smsmessage", "uri": f"{base}/sms/{record['id']}", **record["item"]}
        if record["item"]["direction"] == "OUT" and item.get("sendStatus") != "FAILED":
            stage = max(record["reads"], int((time.time() - record["at"]) // 5))
            if record.get("fail"):
                item["deliveryStatus"] = 16 if stage >= 1 else 0
            else:
                item["deliveryStatus"] = 0 if stage == 0 else 8 if stage == 1 else 1
            if read:
                record["reads"] += 1
        return item

    # -- resources: GET -----------------------------------------------------------------
    def _sms_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None
    ) -> SimResponse:
        live = account.state["sms"]
        if item_id is not None:
            n = int(item_id) if item_id.isdigit() else -1
            if SMS_ID_BASE <= n < SMS_ID_BASE + account.size:
                return SimResponse.json(self._seeded_sms(account, base, account.size - 1 - (n - SMS_ID_BASE)))
            record = next((r for r in live if r["id"] == item_id), None)
            if record is None:
                return self._not_found()
            return SimResponse.json(self._live_sms(account, base, record, read=True))
        return self._merged_page(
            request,
            f"{base}/sms",
            live[::-1],
            range(account.size),
            lambda i: self._seeded_sms(account, base, i),
            lambda r: self._live_sms(account, base, r, read=True),
        )

    def _calls_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None
    ) -> SimResponse:
        if item_id is not None:
            n = self._call_count(account)
            k = n - 1 - (int(item_id) - CALL_ID_BASE) if item_id.isdigit() else -1
            if 0 <= k < n:
                return SimResponse.json(self._seeded_call(account, base, k))
            item = next((c for c in account.state["calls"] if c["id"] == item_id), None)
            return SimResponse.json(self._live_call(base, item)) if item else self._not_found()
        filters = self._time_filters(request)
        if isinstance(filters, SimResponse):
            return filters
        after, before = filters
        direction = (request.query.get("direction") or "").upper()
        if direction not in ("", "IN", "OUT"):
            return self._invalid([{"field": "direction", "message": "must be in or out"}])
        seeded = index_range(account, self._call_count(account), after, before)
        if direction:  # seeded direction alternates by index: even = IN
            parity = 0 if direction == "IN" else 1
            first = seeded.start + ((parity - seeded.start) % 2)
            seeded = range(first, seeded.stop, 2)
        live = [self._live_call(base, c) for c in reversed(account.state["calls"])]
        live = [
            c
            for c in live
            if (after is None or parse_filter_time(c["created"]) >= after)
            and (before is None or parse_filter_time(c["created"]) <= before)
            and (not direction or c["direction"] == direction)
        ]
        return self._merged_page(
            request, f"{base}/calls", live, seeded, lambda k: self._seeded_call(account, base, k)
        )

    def _live_call(self, base: str, record: dict[str, Any]) -> dict[str, Any]:
        return self._call_object(base, record["id"], **record["fields"])

    def _recordings_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None, wav: bool
    ) -> SimResponse:
        count = self._recording_count(account)
        if item_id is not None:
            r = count - 1 - (int(item_id) - REC_ID_BASE) if item_id.isdigit() else -1
            if not 0 <= r < count:
                return self._not_found()
            item = self._seeded_recording(account, base, r)
            if wav:
                return SimResponse(200, wav_bytes(int(item_id), item["size"]), {"content-type": "audio/wav"})
            return SimResponse.json(item)
        filters = self._time_filters(request)
        if isinstance(filters, SimResponse):
            return filters
        calls = index_range(account, self._call_count(account), *filters)
        if calls:
            first = -(-calls.start // RECORDING_EVERY)
            last = (calls.stop - 1) // RECORDING_EVERY
            seeded = range(first, last + 1)
        else:
            seeded = range(0)
        call_id = request.query.get("callId") or request.query.get("linkedId")
        if call_id:
            match = re.fullmatch(r"ast01-\d+\.(\d+)", call_id)
            k = int(match.group(1)) - CALL_ID_BASE if match else -1
            seeded = (
                range(k // RECORDING_EVERY, k // RECORDING_EVERY + 1)
                if k % RECORDING_EVERY == 0
                else range(0)
            )
            seeded = range(0) if not seeded or seeded.start >= count else seeded
        return self._merged_page(
            request, f"{base}/recordings", [], seeded, lambda r: self._seeded_recording(account, base, r)
        )

    def _phonenumbers_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None
    ) -> SimResponse:
        items = [self._number(account, base, n) for n in account.state["numbers"]]
        if item_id is not None:
            item = next((i for i in items if i["id"] == item_id), None)
            return SimResponse.json(item) if item else self._not_found()
        return self._paged(request, items, f"{base}/phonenumbers")

    def _number(self, account: SimAccount, base: str, n: dict[str, Any]) -> dict[str, Any]:
        url = n["smsNotificationUrl"] if n["smsNotificationUrl"] is not None else account.hook("sms")
        return {
            "type": "did",
            "id": n["id"],
            "uri": f"{base}/phonenumbers/{n['id']}",
            "created": n["created"],
            "number": n["number"],
            "identifier": n["identifier"],
            "destination": f"{base}/endpoints/{n['endpoint']}",
            "smsEnabled": n["smsEnabled"],
            "smsAllowIncoming": n["smsEnabled"],
            "smsNotificationUrl": url if n["smsEnabled"] else "",
            "faxEnabled": False,
        }

    def _endpoints_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None
    ) -> SimResponse:
        items = [
            {
                "type": e["type"],
                "id": e["id"],
                "uri": f"{base}/endpoints/{e['id']}",
                "created": fmt_time(account.anchor - SPAN),
                "shortNumber": e["shortNumber"],
                "name": e["name"],
                "timeout": 0,
            }
            for e in account.state["endpoints"]
        ]
        if item_id is not None:
            item = next((i for i in items if i["id"] == item_id), None)
            return SimResponse.json(item) if item else self._not_found()
        return self._paged(request, items, f"{base}/endpoints")

    def _outgoingcallerids_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None
    ) -> SimResponse:
        items = [
            {
                "type": "outgoingcallerid",
                "uri": f"{base}/outgoingcallerids/{c['id']}",
                "created": fmt_time(account.anchor - SPAN),
                "number": c["number"],
                "allowCalls": c["allowCalls"],
                "allowSms": c["allowSms"],
            }
            for c in account.state["callerids"]
        ]
        if item_id is not None:
            item = next((i for i in items if i["uri"].endswith(f"/{item_id}")), None)
            return SimResponse.json(item) if item else self._not_found()
        return self._paged(request, items, f"{base}/outgoingcallerids")

    def _creditstatus_get(
        self, account: SimAccount, request: SimRequest, base: str, item_id: str | None
    ) -> SimResponse:
        if item_id is not None:
            return self._not_found()
        return SimResponse.json(
            {
                "type": "creditstatus",
                "uri": f"{base}/creditstatus",
                "accountType": account.state["account_type"],
                "balance": account.state["balance"],
            }
        )

    # -- resources: POST ----------------------------------------------------------------
    def _body(self, request: SimRequest) -> dict[str, Any] | SimResponse:
        try:
            data = request.json()
        except ValueError:
            return self._error(400, "Request body is not valid JSON.")
        if not isinstance(data, dict):
            return self._error(400, "Request body must be a JSON object.")
        return data

    def _sms_post(self, account: SimAccount, request: SimRequest, base: str) -> SimResponse:
        data = self._body(request)
        if isinstance(data, SimResponse):
            return data
        errors = []
        if data.get("type") not in (None, "smsmessage"):
            errors.append({"field": "type", "message": "must be smsmessage"})
        to = national(str(data.get("to") or ""))
        if not re.fullmatch(r"0\d{9,14}", to):
            errors.append({"field": "to", "message": "must be a valid phone number"})
        body = str(data.get("body") or "")
        if not body.strip():
            errors.append({"field": "body", "message": "may not be empty"})
        if errors:
            return self._invalid(errors)
        sender = str(data.get("from") or "")
        own = {n["number"] for n in account.state["numbers"]}
        approved = {c["number"] for c in account.state["callerids"] if c["allowSms"]}
        if national(sender) not in own and sender not in approved:
            return SimResponse.json(
                {
                    "errors": [
                        {"message": f"'{sender}' is not a number or approved caller ID on this account."}
                    ]
                },
                400,
            )
        sms_id = self._new_id(account)
        parts = 1 if len(body) <= 160 else math.ceil(len(body) / 153)
        record = {
            "id": sms_id,
            "at": time.time(),
            "reads": 0,
            "fail": to.endswith("999"),  # a handle for tests: these are rejected by the carrier
            "item": {
                "id": sms_id,
                "created": fmt_time(datetime.now(UTC)),
                "direction": "OUT",
                "from": national(sender) if national(sender) in own else sender,
                "to": to,
                "body": body,
                "sendStatus": "SENT",
                "deliveryStatus": 0,
                "cost": round(0.04 * parts, 2),
            },
        }
        account.state["sms"].append(record)
        account.state["balance"] = round(account.state["balance"] - record["item"]["cost"], 3)
        item = self._live_sms(account, base, record, read=False)
        return SimResponse.json(item, 201, {"location": item["uri"]})

    def _calls_post(self, account: SimAccount, request: SimRequest, base: str) -> SimResponse:
        data = self._body(request)
        if isinstance(data, SimResponse):
            return data
        errors = []
        match = re.search(r"/customers/[^/]+/endpoints/(\d+)$", str(data.get("endpoint") or ""))
        endpoint = next((e for e in account.state["endpoints"] if match and e["id"] == match.group(1)), None)
        if endpoint is None:
            errors.append({"field": "endpoint", "message": "must be the URI of an endpoint on this account"})
        to = national(str(data.get("to") or ""))
        if not re.fullmatch(r"0\d{9,14}|\d{3}", to):
            errors.append({"field": "to", "message": "must be a valid phone number"})
        if errors:
            return self._invalid(errors)
        now = datetime.now(UTC)
        call_id = f"ast01-{int(now.timestamp())}.{self._new_id(account)}"
        account.state["calls"].append(
            {
                "id": self._new_id(account),
                "fields": {
                    "created": now,
                    "inbound": False,
                    "frm": endpoint["shortNumber"],
                    "to": to,
                    "started": now,
                    "outcome": "ANSWERED",
                    "duration": 42,
                    "cost": 0.014,
                    "call_id": call_id,
                },
            }
        )
        return SimResponse(200)

    # -- events -------------------------------------------------------------------------
    def emit(self, account: SimAccount, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        if kind != "sms":
            return super().emit(account, kind, params)
        numbers = [n for n in account.state["numbers"] if n["smsEnabled"]] or account.state["numbers"]
        to = national(str(params.get("to") or numbers[0]["number"]))
        number = next((n for n in account.state["numbers"] if n["number"] == to), numbers[0])
        frm = national(str(params.get("from") or "07700900555"))
        body = str(params.get("body") or "Hello from the sandbox")
        sms_id = self._new_id(account)
        account.state["sms"].append(
            {
                "id": sms_id,
                "at": time.time(),
                "reads": 0,
                "item": {
                    "id": sms_id,
                    "created": fmt_time(datetime.now(UTC)),
                    "direction": "IN",
                    "from": frm,
                    "to": number["number"],
                    "body": body,
                    "deliveryStatus": 0,
                    "cost": 0,
                },
            }
        )
        url = number["smsNotificationUrl"] or account.hook("sms")
        form = urlencode({"to": number["number"], "from": frm, "body": body, "udh": ""}).encode()
        self.sandbox.outbox.schedule(
            self.code, url, form, {"content-type": "application/x-www-form-urlencoded"}, delay=0
        )
        return {"id": sms_id, "to": number["number"], "from": frm, "body": body, "webhook_url": url}
