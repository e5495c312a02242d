"""jambonz simulator: the `/v1` REST routes Switchboard uses, shaped like jambonz-swagger.yaml
and the api-server code (PROVIDER_NOTES §4), plus signed call-status / call / SMS webhooks.

Seeded CDRs are generated on demand from (seed, index), never stored, so an account with a
million calls costs no memory. Live records (placed calls, emitted events, sent messages,
created accounts) live in `account.state`.

State knobs (all optional, in `account.state`):
- "scope": "account" (default) or "service_provider"; credentials carrying a
  `service_provider_sid` make the key service-provider scoped;
- "rate_limit": {"max": 600, "window": 300} turns on express-rate-limit style 429s (off by default);
- "size_field": "page_size" (the code, default) or "batch" (the swagger) in RecentCalls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta
from typing import Any

from .sim import ProviderSim, SimAccount, SimRequest, SimResponse, history_time, valid_e164

CALL_SPAN = timedelta(days=30)
MAX_COUNT = 500
FORBIDDEN = {"status": "fail", "message": "insufficient privileges"}
TARGET_TYPES = ("phone", "sip", "user", "teams")
SPEECH_KEYS = (
    "speech_synthesis_vendor",
    "speech_synthesis_language",
    "speech_synthesis_voice",
    "speech_recognizer_vendor",
    "speech_recognizer_language",
)

# (regex on the path below /v1, swagger template) — the template names ledger endpoints.
ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), t)
    for p, t in (
        (r"^/Accounts$", "/Accounts"),
        (r"^/Accounts/([^/]+)$", "/Accounts/{AccountSid}"),
        (r"^/Accounts/([^/]+)/RecentCalls$", "/Accounts/{AccountSid}/RecentCalls"),
        (r"^/Accounts/([^/]+)/Calls$", "/Accounts/{AccountSid}/Calls"),
        (r"^/Accounts/([^/]+)/Calls/([^/]+)$", "/Accounts/{AccountSid}/Calls/{CallSid}"),
        (r"^/Accounts/([^/]+)/Messages$", "/Accounts/{AccountSid}/Messages"),
        (r"^/Accounts/([^/]+)/WebhookSecret$", "/Accounts/{AccountSid}/WebhookSecret"),
        (r"^/PhoneNumbers$", "/PhoneNumbers"),
        (r"^/PhoneNumbers/([^/]+)$", "/PhoneNumbers/{PhoneNumberSid}"),
        (r"^/ServiceProviders/([^/]+)/Accounts$", "/ServiceProviders/{ServiceProviderSid}/Accounts"),
        (r"^/ApiKeys$", "/ApiKeys"),
    )
]


def _uuid(rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(dt: datetime, ms: bool = True) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _hook_url(hook: Any) -> str:
    return str(hook.get("url") or "") if isinstance(hook, dict) else str(hook or "")


def _bad(msg: str, status: int = 400) -> SimResponse:
    return SimResponse.json({"msg": msg}, status)


def _not_found() -> SimResponse:
    return SimResponse(404)  # jambonz: res.sendStatus(404) / .end(), no body


def sign(secret: str, body: bytes, t: int) -> str:
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class JambonzSim(ProviderSim):
    code = "jambonz"
    root = "/v1"

    @classmethod
    def account_credentials(cls, label: str) -> tuple[dict[str, str], str, str]:
        sid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"switchboard-sandbox:{label}"))
        return {"api_key": f"sbx-{label}-token", "account_sid": sid}, sid, f"wh_secret_{label}"

    # -- setup -----------------------------------------------------------------------
    def setup_account(self, account: SimAccount) -> None:
        state = account.state
        creds = account.credentials
        sp_sid = creds.get("service_provider_sid") or _uuid(account.rng("service-provider"))
        state.setdefault("service_provider_sid", sp_sid)
        state.setdefault("scope", "service_provider" if creds.get("service_provider_sid") else "account")
        state.setdefault("size_field", "page_size")
        state.setdefault("rate_limit", None)
        state.setdefault("hits", [])
        state.setdefault("calls", {})  # live CDR-shaped records by call_sid, oldest first
        state.setdefault("messages", {})
        state.setdefault("counter", 0)
        if not account.webhook_secret:
            account.webhook_secret = "wh_secret_" + _uuid(account.rng("secret")).replace("-", "")[:22]
        parent = account.parent.state if account.parent else {}
        if self.account_sid(account) in parent.get("accounts", {}):
            # A key made through POST /ApiKeys: the account already exists at the provider.
            state["service_provider_sid"] = parent["service_provider_sid"]
            state["accounts"] = parent["accounts"]
        rng = account.rng("account")
        created = account.anchor - CALL_SPAN - timedelta(days=rng.randint(1, 300))
        own = {
            "account_sid": self.account_sid(account),
            "name": f"Sandbox account {account.seed}",
            "sip_realm": f"acct{account.seed}.sip.example.com",
            "service_provider_sid": state["service_provider_sid"],
            "registration_hook": None,
            "device_calling_application_sid": None,
            "is_active": 1,
            "plan_type": "paid",
            "created_at": _iso(created),
            "webhook_secret": account.webhook_secret,
        }
        accounts = {own["account_sid"]: own}
        for j in range(2 + account.rng("siblings").randint(0, 1)):
            r = account.rng("sibling", j)
            sid = _uuid(r)
            accounts[sid] = {
                **own,
                "account_sid": sid,
                "name": f"Customer {j + 1}",
                "sip_realm": f"cust{j + 1}.acct{account.seed}.sip.example.com",
                "is_active": 0 if j == 2 else 1,
                "created_at": _iso(created + timedelta(days=r.randint(1, 200))),
                "webhook_secret": "wh_secret_" + _uuid(r).replace("-", "")[:22],
            }
        state.setdefault("accounts", accounts)
        rng = account.rng("numbers")
        numbers = {}
        for k in range(rng.randint(3, 6)):
            sid = _uuid(rng)
            if k % 2:
                local = f"+46{rng.randint(700000000, 799999999)}"
            else:
                local = f"+1617{rng.randint(2000000, 9999999)}"
            numbers[sid] = {
                "phone_number_sid": sid,
                "number": valid_e164(local).lstrip("+"),
                "voip_carrier_sid": _uuid(account.rng("carrier")),
                "account_sid": own["account_sid"],
                "application_sid": _uuid(account.rng("application")),
                "service_provider_sid": state["service_provider_sid"],
            }
        state.setdefault("numbers", numbers)

    @staticmethod
    def account_sid(account: SimAccount) -> str:
        return account.credentials.get("account_sid") or account.remote_id

    # -- plumbing ----------------------------------------------------------------------
    def _route(self, path: str) -> tuple[str, tuple[str, ...]] | None:
        rest = path[len("/v1") :] if path.startswith("/v1/") else path
        for pattern, template in ROUTES:
            match = pattern.match(rest)
            if match:
                return template, match.groups()
        return None

    def endpoint(self, request: SimRequest) -> str:
        route = self._route(request.path)
        return f"{request.method} {route[0] if route else request.path}"

    def authenticate(self, request: SimRequest) -> SimAccount | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        token = auth[7:].strip()
        return self.sandbox.find_account("jambonz", api_key=token) if token else None

    def error_response(self, status: int, message: str) -> SimResponse:
        return SimResponse.json({"msg": message}, status)

    def malformed_response(self) -> SimResponse:
        return SimResponse(200, b'{"total": 12, "data": [{"call_sid": ', {"content-type": "application/json"})

    def _rate_limited(self, account: SimAccount) -> SimResponse | None:
        """express-rate-limit: a window of `max` requests; standard RateLimit-* headers."""
        limit = account.state.get("rate_limit")
        if not limit:
            return None
        now = time.time()
        window = float(limit.get("window", 300))
        hits = [h for h in account.state["hits"] if h > now - window]
        hits.append(now)
        account.state["hits"] = hits
        maximum = int(limit.get("max", 600))
        reset = max(1, int(hits[0] + window - now))
        headers = {
            "ratelimit-limit": str(maximum),
            "ratelimit-remaining": str(max(0, maximum - len(hits))),
            "ratelimit-reset": str(reset),
        }
        if len(hits) <= maximum:
            return None
        return SimResponse.text(
            "Too many requests, please try again later.", 429, {**headers, "retry-after": str(reset)}
        )

    def handle(self, request: SimRequest) -> SimResponse:
        account = self.authenticate(request)
        if account is None:
            return SimResponse.text("Unauthorized", 401, {"www-authenticate": 'Bearer realm="Users"'})
        limited = self._rate_limited(account)
        if limited is not None:
            return limited
        route = self._route(request.path)
        if route is None:
            return _not_found()
        template, args = route
        body: Any = None
        if request.method in ("POST", "PUT"):
            try:
                body = request.json()
            except ValueError:
                return _bad("Bad request")
            if not isinstance(body, dict):
                return _bad("Bad request")
        handler = {
            ("GET", "/Accounts"): self._list_accounts,
            ("POST", "/Accounts"): self._create_account,
            ("GET", "/Accounts/{AccountSid}"): self._get_account,
            ("PUT", "/Accounts/{AccountSid}"): self._update_account,
            ("GET", "/Accounts/{AccountSid}/RecentCalls"): self._recent_calls,
            ("GET", "/Accounts/{AccountSid}/Calls"): self._live_calls,
            ("POST", "/Accounts/{AccountSid}/Calls"): self._create_call,
            ("GET", "/Accounts/{AccountSid}/Calls/{CallSid}"): self._get_call,
            ("POST", "/Accounts/{AccountSid}/Messages"): self._create_message,
            ("GET", "/Accounts/{AccountSid}/WebhookSecret"): self._webhook_secret,
            ("GET", "/PhoneNumbers"): self._list_numbers,
            ("GET", "/PhoneNumbers/{PhoneNumberSid}"): self._get_number,
            ("GET", "/ServiceProviders/{ServiceProviderSid}/Accounts"): self._sp_accounts,
            ("POST", "/ApiKeys"): self._create_api_key,
        }.get((request.method, template))
        if handler is None:
            return SimResponse(405)
        return handler(account, request, args, body)

    def _is_sp(self, account: SimAccount) -> bool:
        return account.state.get("scope") == "service_provider"

    def _visible_account(self, account: SimAccount, sid: str) -> dict[str, Any] | None:
        """An account-scoped key sees its own account only; an SP key sees the provider's."""
        if sid == self.account_sid(account) or self._is_sp(account):
            return account.state["accounts"].get(sid)
        return None

    # -- accounts ----------------------------------------------------------------------
    def _list_accounts(self, account, request, args, body) -> SimResponse:
        if self._is_sp(account):
            return SimResponse.json(list(account.state["accounts"].values()))
        return SimResponse.json([account.state["accounts"][self.account_sid(account)]])

    def _sp_accounts(self, account, request, args, body) -> SimResponse:
        if not self._is_sp(account):
            return SimResponse.json(FORBIDDEN, 403)
        if args[0] != account.state["service_provider_sid"]:
            return _not_found()
        return SimResponse.json(list(account.state["accounts"].values()))

    def _create_account(self, account, request, args, body) -> SimResponse:
        if not self._is_sp(account):
            return SimResponse.json(FORBIDDEN, 403)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return _bad("missing name")
        if body.get("service_provider_sid") != account.state["service_provider_sid"]:
            return _bad("invalid service_provider_sid", 422)
        if any(a["name"] == name for a in account.state["accounts"].values()):
            return _bad("duplicate entry for name", 422)
        sid = self._next_sid(account, "account")
        own = account.state["accounts"][self.account_sid(account)]
        account.state["accounts"][sid] = {
            **own,
            "account_sid": sid,
            "name": name,
            "sip_realm": body.get("sip_realm"),
            "is_active": 1,
            "created_at": _iso(datetime.now(UTC)),
            "webhook_secret": "wh_secret_" + sid.replace("-", "")[:22],
        }
        return SimResponse.json({"sid": sid}, 201)

    def _get_account(self, account, request, args, body) -> SimResponse:
        found = self._visible_account(account, args[0])
        return SimResponse.json(found) if found else _not_found()

    def _update_account(self, account, request, args, body) -> SimResponse:
        found = self._visible_account(account, args[0])
        if not found:
            return _not_found()
        if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
            return _bad("invalid name")
        if "account_sid" in body and body["account_sid"] != args[0]:
            return _bad("account_sid may not be changed", 422)
        for key in ("name", "sip_realm", "registration_hook", "queue_event_hook"):
            if key in body:
                found[key] = body[key]
        return SimResponse(204)

    def _webhook_secret(self, account, request, args, body) -> SimResponse:
        found = self._visible_account(account, args[0])
        if not found:
            return _not_found()
        return SimResponse.json({"webhook_secret": found["webhook_secret"]})

    def _create_api_key(self, account, request, args, body) -> SimResponse:
        target = body.get("account_sid")
        if not target or not self._visible_account(account, target):
            return _bad("invalid account_sid") if target else _bad("Bad request")
        sid = self._next_sid(account, "api-key-sid")
        token = self._next_sid(account, "api-key")
        # The new key acts for the new account: register it so it can be used right away.
        self.sandbox.add_account(
            "jambonz",
            {"api_key": token, "account_sid": target},
            remote_id=target,
            seed=account.seed + 1000,
            size=0,
            anchor=account.anchor,
            webhook_base=account.webhook_base,
            webhook_secret=account.state["accounts"][target]["webhook_secret"],
            parent=account,
        )
        return SimResponse.json({"sid": sid, "token": token}, 201)

    def _next_sid(self, account: SimAccount, kind: str) -> str:
        account.state["counter"] += 1
        return _uuid(account.rng("live", kind, account.state["counter"]))

    # -- numbers -----------------------------------------------------------------------
    def _numbers_for(self, account: SimAccount) -> list[dict[str, Any]]:
        return list(account.state["numbers"].values())

    def _list_numbers(self, account, request, args, body) -> SimResponse:
        rows = self._numbers_for(account)
        if request.query.get("account_sid"):
            rows = [r for r in rows if r["account_sid"] == request.query["account_sid"]]
        if "page" not in request.query:
            return SimResponse.json(rows)
        try:
            page = int(request.query["page"])
            size = int(request.query.get("page_size") or 25)
        except ValueError:
            return _bad("invalid page or page_size")
        if page < 1 or size < 1:
            return _bad("invalid page or page_size")
        data = rows[(page - 1) * size : page * size]
        return SimResponse.json({"total": len(rows), "page": page, "page_size": size, "data": data})

    def _get_number(self, account, request, args, body) -> SimResponse:
        found = account.state["numbers"].get(args[0])
        return SimResponse.json(found) if found else _not_found()

    # -- seeded and live call records ----------------------------------------------------
    @staticmethod
    def seeded_count(account: SimAccount) -> int:
        return max(0, account.size // 4)

    def seeded_time(self, account: SimAccount, index: int) -> datetime:
        return history_time(account, index, CALL_SPAN, self.seeded_count(account))

    def seeded_call(self, account: SimAccount, index: int) -> dict[str, Any]:
        """Seeded CDR `index` (0 = newest), built from its own rng: no state needed."""
        rng = account.rng("call", index)
        call_sid = _uuid(rng)
        attempted = self.seeded_time(account, index)
        ours = [e["number"] for e in account.state["numbers"].values()] or ["15083084809"]
        our = rng.choice(ours)
        other = valid_e164(f"+46{rng.randint(700000000, 799999999)}")
        direction = rng.choice(("inbound", "outbound"))
        answered = rng.random() < 0.7
        sip_status = 200 if answered else rng.choice((486, 487, 480, 503, 404))
        ring = rng.randint(2, 25)
        duration = rng.randint(3, 900) if answered else 0
        answered_at = attempted + timedelta(seconds=ring) if answered else None
        terminated = (
            (answered_at + timedelta(seconds=duration))
            if answered_at
            else attempted + timedelta(seconds=ring)
        )
        reason = (
            rng.choice(("caller hungup", "called party hungup"))
            if answered
            else {486: "busy", 487: "caller abandoned", 480: "no answer", 503: "failed", 404: "failed"}[
                sip_status
            ]
        )
        return {
            "account_sid": self.account_sid(account),
            "service_provider_sid": account.state["service_provider_sid"],
            "call_sid": call_sid,
            "application_sid": _uuid(account.rng("application")),
            "from": other if direction == "inbound" else our,
            "to": our if direction == "inbound" else other,
            "answered": answered,
            "sip_callid": f"{call_sid[:8]}-{index}@10.0.0.{rng.randint(2, 250)}",
            "sip_parent_callid": None,
            "sip_status": sip_status,
            "duration": duration,
            "attempted_at": _iso(attempted),
            "answered_at": _iso(answered_at) if answered_at else None,
            "terminated_at": _iso(terminated),
            "termination_reason": reason,
            "host": "10.0.0.1",
            "remote_host": f"192.0.2.{rng.randint(1, 254)}",
            "trunk": rng.choice(("twilio", "telnyx", "voxbone")),
            "direction": direction,
            "trace_id": rng.getrandbits(128).to_bytes(16, "big").hex(),
            "recording_url": None,
        }

    def _seeded_index_range(self, account: SimAccount, start: datetime | None, end: datetime | None):
        """Indexes [lo, hi) of seeded calls with start <= time <= end (times fall with index)."""
        n = self.seeded_count(account)

        class _Keys:  # newest-first times as an ascending key for bisect, computed lazily
            def __len__(self) -> int:
                return n

            def __getitem__(inner, i: int) -> float:
                return -self.seeded_time(account, i).timestamp()

        keys = _Keys()
        lo = 0 if end is None else bisect_left(keys, -end.timestamp())
        hi = n if start is None else bisect_right(keys, -start.timestamp())
        return lo, max(lo, hi)

    def _recent_calls(self, account, request, args, body) -> SimResponse:
        sid = args[0]
        if not self._visible_account(account, sid):
            return _not_found()
        q = request.query
        try:
            page = int(q.get("page", ""))
            assert page >= 1
        except (ValueError, AssertionError):
            return _bad('missing or invalid "page" query arg')
        try:
            count = int(q.get("count", ""))
            assert 1 <= count <= MAX_COUNT
        except (ValueError, AssertionError):
            return _bad('missing or invalid "count" query arg')
        now = datetime.now(UTC)
        start = end = None
        try:
            if q.get("days"):
                days = int(q["days"])
                if not 1 <= days <= 30:
                    return _bad('invalid "days" query arg')
                start = now - timedelta(days=days)
            else:
                start = _parse(q["start"]) if q.get("start") else None
                end = _parse(q["end"]) if q.get("end") else None
        except ValueError:
            return _bad("invalid start or end")
        direction, filt, answered = q.get("direction"), q.get("filter"), q.get("answered")
        own = sid == self.account_sid(account)

        def keep(row: dict[str, Any]) -> bool:
            t = _parse(row["attempted_at"])
            if (start and t < start) or (end and t > end):
                return False
            if direction and row["direction"] != direction:
                return False
            if answered in ("true", "false") and row["answered"] != (answered == "true"):
                return False
            return not filt or filt == row["call_sid"] or filt in row["from"] or filt in row["to"]

        # Live calls (placed or emitted after the account was created) are newer than any
        # seeded one, so the listing is live (newest first) followed by the seeded slice.
        live = [c["cdr"] for c in reversed(account.state["calls"].values()) if keep(c["cdr"])] if own else []
        offset = (page - 1) * count
        data = live[offset : offset + count]
        memo: dict[str, int] = account.state.setdefault("sid_index", {})
        if own and not direction and not filt and not answered:
            lo, hi = self._seeded_index_range(account, start, end)
            first = lo + max(0, offset - len(live))
            last = min(hi, first + count - len(data))
            for i in range(first, last):
                row = self.seeded_call(account, i)
                if len(memo) < 100_000:  # remembers sids handed out, for call_sid lookups
                    memo[row["call_sid"]] = i
                data.append(row)
            total = len(live) + hi - lo
        elif own and filt and re.fullmatch(r"[0-9a-f-]{36}", filt):
            # A call_sid lookup: a lazily generated history cannot be scanned at 1M calls,
            # so seeded sids are found through the memo of sids already listed.
            seeded = [self.seeded_call(account, memo[filt])] if filt in memo else []
            rows = live + [r for r in seeded if keep(r)]
            data, total = rows[offset : offset + count], len(rows)
        else:
            # Other filters scan the seeded window: fine for the sizes tests filter on.
            lo, hi = self._seeded_index_range(account, start, end) if own else (0, 0)
            rows = live + [r for r in (self.seeded_call(account, i) for i in range(lo, hi)) if keep(r)]
            data, total = rows[offset : offset + count], len(rows)
        size_field = account.state.get("size_field", "page_size")
        # The code echoes page and count from the query string, so they are strings.
        return SimResponse.json({"total": total, size_field: q["count"], "page": q["page"], "data": data})

    # -- live calls --------------------------------------------------------------------
    def _live_calls(self, account, request, args, body) -> SimResponse:
        if args[0] != self.account_sid(account):
            return _not_found()
        rows = [
            c["live"]
            for c in account.state["calls"].values()
            if c["live"]["call_status"] in ("trying", "ringing", "early-media", "in-progress")
        ]
        return SimResponse.json(rows)

    def _get_call(self, account, request, args, body) -> SimResponse:
        if args[0] != self.account_sid(account):
            return _not_found()
        found = account.state["calls"].get(args[1])
        return SimResponse.json(found["live"]) if found else _not_found()

    def _validate_call(self, body: dict[str, Any]) -> str | None:
        if not body.get("from") or not isinstance(body["from"], str):
            return "missing from property"
        to = body.get("to")
        if not isinstance(to, dict):
            return "missing to property"
        if to.get("type") not in TARGET_TYPES:
            return "invalid to.type"
        if to["type"] in ("phone", "teams") and not to.get("number"):
            return "missing to.number"
        if to["type"] == "user" and not to.get("name"):
            return "missing to.name"
        if to["type"] == "sip" and not to.get("sipUri"):
            return "missing to.sipUri"
        has_app, has_hook = bool(body.get("application_sid")), bool(body.get("call_hook"))
        if has_app == has_hook:
            return "exactly one of application_sid or call_hook is required"
        for name in ("call_hook", "call_status_hook"):
            if body.get(name):
                url = _hook_url(body[name])
                if not re.match(r"^(https?|wss?)://", url):
                    return f"invalid {name} url"
        if not has_app:
            for key in SPEECH_KEYS:
                if not body.get(key):
                    return f"missing {key}"
        timeout = body.get("timeout", 60)
        if not isinstance(timeout, int) or timeout < 1:
            return "invalid timeout"
        return None

    def _create_call(self, account, request, args, body) -> SimResponse:
        if args[0] != self.account_sid(account):
            return SimResponse.json(FORBIDDEN, 403) if not self._is_sp(account) else _not_found()
        problem = self._validate_call(body)
        if problem:
            return _bad(problem)
        call_sid = self._next_sid(account, "call")
        number = str(body["to"].get("number") or body["to"].get("name") or body["to"].get("sipUri"))
        record = self._start_call(
            account,
            call_sid=call_sid,
            direction="outbound",
            from_=body["from"],
            to=number,
            status_url=_hook_url(body.get("call_status_hook")) or account.hook("call-status"),
            call_hook_url=_hook_url(body.get("call_hook")),
            tag=body.get("tag") if isinstance(body.get("tag"), dict) else None,
        )
        return SimResponse.json({"sid": call_sid, "callId": record["live"]["call_id"]}, 201)

    def _start_call(
        self,
        account: SimAccount,
        *,
        call_sid: str,
        direction: str,
        from_: str,
        to: str,
        status_url: str,
        call_hook_url: str,
        tag: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Store the call and schedule its webhooks. Numbers ending in 0000 never connect."""
        rng = account.rng("live-call", call_sid)
        now = datetime.now(UTC)
        digits = re.sub(r"\D", "", to)
        outcome = rng.choice(("failed", "busy", "no-answer")) if digits.endswith("0000") else "completed"
        duration = rng.randint(5, 60) if outcome == "completed" else 0
        sip_final = {"completed": 200, "failed": 503, "busy": 486, "no-answer": 487}[outcome]
        base = {
            "call_sid": call_sid,
            "direction": direction,
            "from": from_.lstrip("+"),
            "to": to.lstrip("+"),
            "call_id": f"{uuid.UUID(int=rng.getrandbits(128))}",
            "sbc_callid": f"{uuid.UUID(int=rng.getrandbits(128))}",
            "caller_id": from_.lstrip("+"),
            "account_sid": self.account_sid(account),
            "application_sid": _uuid(account.rng("application")),
            "trace_id": rng.getrandbits(128).to_bytes(16, "big").hex(),
            "fs_sip_address": "10.0.0.5:5070",
        }
        if tag:
            base["customerData"] = tag
        # (delay seconds, call_status, sip_status, sip_reason); statuses as jambonz posts them.
        steps: list[tuple[float, str, int, str]] = [
            (0, "trying", 100, "Trying"),
            (1, "ringing", 180, "Ringing"),
        ]
        answer_at = 1 + rng.randint(1, 5)
        if outcome == "completed":
            steps += [(answer_at, "in-progress", 200, "OK"), (answer_at + duration, "completed", 200, "OK")]
        else:
            reason = {"failed": "Service Unavailable", "busy": "Busy Here", "no-answer": "Request Terminated"}
            steps.append((answer_at, outcome, sip_final, reason[outcome]))
        secret = account.webhook_secret
        for delay, status, sip_status, sip_reason in steps:
            payload = {**base, "call_status": status, "sip_status": sip_status, "sip_reason": sip_reason}
            if status == "completed":
                payload["duration"] = duration
                payload["call_termination_by"] = "caller"
            self._post(account, status_url, payload, delay, secret)
            if status == "in-progress" and call_hook_url and direction == "outbound":
                self._post(account, call_hook_url, {**payload, "defaults": self._defaults()}, delay, secret)
        attempted = now
        answered_at = now + timedelta(seconds=answer_at) if outcome == "completed" else None
        cdr = {
            "account_sid": self.account_sid(account),
            "service_provider_sid": account.state["service_provider_sid"],
            "call_sid": call_sid,
            "application_sid": base["application_sid"],
            "from": from_,
            "to": to,
            "answered": outcome == "completed",
            "sip_callid": base["call_id"],
            "sip_parent_callid": None,
            "sip_status": sip_final,
            "duration": duration,
            "attempted_at": _iso(attempted),
            "answered_at": _iso(answered_at) if answered_at else None,
            "terminated_at": _iso(now + timedelta(seconds=steps[-1][0])),
            "termination_reason": "caller hungup" if outcome == "completed" else outcome,
            "host": "10.0.0.1",
            "remote_host": "192.0.2.10",
            "trunk": "sandbox",
            "direction": direction,
            "trace_id": base["trace_id"],
            "recording_url": None,
        }
        # The live Call object reports the final state: the sandbox does not run a clock.
        live = {
            **{k: base[k] for k in ("call_sid", "account_sid", "application_sid", "call_id", "direction")},
            "from": base["from"],
            "to": base["to"],
            "call_status": outcome,
            "sip_status": sip_final,
            "caller_name": base["caller_id"],
            "duration": duration,
            "service_url": "http://10.0.0.5:3000",
        }
        record = {"cdr": cdr, "live": live}
        account.state["calls"][call_sid] = record
        return record

    @staticmethod
    def _defaults() -> dict[str, Any]:
        return {
            "synthesizer": {"vendor": "google", "language": "en-US", "voice": "en-US-Standard-C"},
            "recognizer": {"vendor": "google", "language": "en-US"},
        }

    def _post(
        self, account: SimAccount, url: str, payload: dict[str, Any], delay: float, secret: str
    ) -> None:
        # JSON.stringify: compact, key order kept. `t` is the time jambonz would send it.
        body = json.dumps(payload, separators=(",", ":")).encode()
        t = int(time.time() + delay)
        headers = {
            "content-type": "application/json",
            "user-agent": "jambonz",
            "jambonz-signature": sign(secret, body, t),
        }
        self.sandbox.outbox.schedule("jambonz", url, body, headers, delay=delay)

    # -- messages ----------------------------------------------------------------------
    def _create_message(self, account, request, args, body) -> SimResponse:
        if args[0] != self.account_sid(account):
            return _not_found()
        for key in ("from", "to"):
            if not body.get(key) or not isinstance(body[key], str):
                return _bad(f"missing {key} property")
        if not body.get("text") and not body.get("media"):
            return _bad("missing text or media property")
        sid = self._next_sid(account, "message")
        account.state["messages"][sid] = {"message_sid": sid, **body}
        if re.sub(r"\D", "", body["to"]).endswith("0000"):
            return SimResponse.json(
                {
                    "sid": sid,
                    "message": "SMPP submit failed",
                    "smpp_err_code": "0x0000000B",
                    "carrier": body.get("provider") or "sandbox-smpp",
                    "message_id": None,
                },
                480,
            )
        return SimResponse.json({"sid": sid, "providerResponse": "OK. Message Submitted Successfully"}, 201)

    # -- inbound events --------------------------------------------------------------------
    def emit(self, account: SimAccount, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        ours = next(iter(account.state["numbers"].values()), {}).get("number", "15083084809")
        if kind == "sms":
            sid = self._next_sid(account, "inbound-message")
            payload = {
                "carrier": "sandbox-smpp",
                "message_sid": sid,
                "account_sid": self.account_sid(account),
                "service_provider_sid": account.state["service_provider_sid"],
                "application_sid": _uuid(account.rng("application")),
                "from": str(params.get("from") or "+46701234567").lstrip("+"),
                "to": str(params.get("to") or ours).lstrip("+"),
                "cc": [],
                "text": str(params.get("text", params.get("body", "Hello from the sandbox"))),
                "media": list(params.get("media") or []),
            }
            url = str(params.get("url") or account.hook("sms"))
            self._post(account, url, payload, float(params.get("delay", 0)), account.webhook_secret)
            return {"message_sid": sid, "url": url, "payload": payload}
        if kind == "call":
            call_sid = self._next_sid(account, "inbound-call")
            from_ = str(params.get("from") or "+46701234567")
            to = str(params.get("to") or "+" + ours.lstrip("+"))
            hook = str(params.get("url") or account.hook("call"))
            first = {
                "call_sid": call_sid,
                "direction": "inbound",
                "from": from_.lstrip("+"),
                "to": to.lstrip("+"),
                "call_status": "trying",
                "sip_status": 100,
                "sip_reason": "Trying",
                "account_sid": self.account_sid(account),
                "service_provider_sid": account.state["service_provider_sid"],
                "originating_sip_ip": "192.0.2.10",
                "originating_sip_trunk_name": "sandbox",
                "defaults": self._defaults(),
                "env_vars": {},
                "sip": {"headers": {"from": f"<sip:{from_.lstrip('+')}@192.0.2.10>"}},
            }
            self._post(account, hook, first, 0, account.webhook_secret)
            record = self._start_call(
                account,
                call_sid=call_sid,
                direction="inbound",
                from_=from_,
                to=to,
                status_url=str(params.get("status_url") or account.hook("call-status")),
                call_hook_url="",
                tag=None,
            )
            return {"call_sid": call_sid, "url": hook, "outcome": record["live"]["call_status"]}
        raise NotImplementedError(f"jambonz cannot emit {kind}")
