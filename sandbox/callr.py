"""Callr simulator: JSON-RPC 2.0 v1.1 on one POST endpoint (`/callr/json-rpc/v1.1/`).

The seeded history is never materialised: SMS `i` (0 = newest) and CDR `j` are computed from
`account.rng(...)` and `history_time`, and a date-range query turns its bounds into an index
range arithmetically, so a 1,000,000-message account costs no memory. Live records (sends,
emitted events, new sub-accounts) live in `account.state` and are merged into listings.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .sim import ProviderSim, SimAccount, SimRequest, SimResponse, history_time, valid_e164

SPAN = timedelta(days=180)  # seeded history spread (Callr keeps ~6 months of SMS searchable)
CALLR_TIME = "%Y-%m-%d %H:%M:%S"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
LIVE_BASE = 1 << 31  # live SMS hashes come from a part of the id space seeds never use
CALLID_SEED_BASE = 7_000_000_000
CALLID_LIVE_BASE = 8_000_000_000
COUNTRIES = (("+33", "FR"), ("+44", "GB"), ("+46", "SE"), ("+1646", "US"), ("+49", "DE"))
DID_TYPES = ("GEOGRAPHIC", "MOBILE", "TOLLFREE", "SMS-ONLY", "NON-GEOGRAPHIC")
TEXTS = ("Your code is {n}", "See you at {n}:00", "Order {n} shipped", "Reminder: appointment {n}", "Thanks!")



def subaccount_record(
    h: str, identity: dict[str, str], emails: list[str], *, login: str, credit: str = "0.00",
    disabled: bool = False,
) -> dict[str, Any]:
    """A Callr subaccount as the API holds it (seeded or created through `subaccounts.create`)."""
    return {
        "hash": h,
        "account": identity,
        "contact": {"emails": emails, "phones": [], "addresses": []},
        "credentials": {"login": login},
        "params": {"billing": {"currency_code": "EUR", "emails": [], "addresses": []}},
        "state": {
            "allow_calls_in": True,
            "allow_calls_out": True,
            "allow_sms_in": True,
            "allow_sms_out": True,
            "archived": False,
            "credit": credit,
            "disabled": disabled,
        },
    }

class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def invalid_params(detail: str) -> RpcError:
    return RpcError(-32602, "Invalid params", detail)


def fmt(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime(CALLR_TIME) if dt else None


def iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_dt(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise invalid_params(f"{name}: expected a datetime string")
    try:
        return datetime.strptime(value, CALLR_TIME).replace(tzinfo=UTC)
    except ValueError:
        raise invalid_params(f"{name}: expected YYYY-MM-DD HH:MM:SS") from None


def perm32(x: int, salt: int) -> int:
    """A bijection on 32-bit ints: distinct inputs give distinct 8-hex-digit hashes."""
    x = (x ^ (salt & 0xFFFFFFFF)) & 0xFFFFFFFF
    x = (x * 0x9E3779B1) & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    return x ^ (x >> 13)


def index_range(account: SimAccount, size: int, lo: datetime, hi: datetime) -> range:
    """Indexes whose history_time t satisfies lo <= t < hi (t = anchor - step*(i+1))."""
    if size <= 0 or hi <= lo:
        return range(0)
    step = SPAN / size
    first = max(0, math.floor((account.anchor - hi) / step) - 2)
    last = min(size - 1, math.ceil((account.anchor - lo) / step) + 1)
    while first <= last and history_time(account, first, SPAN, size) >= hi:
        first += 1
    while last >= first and history_time(account, last, SPAN, size) < lo:
        last -= 1
    return range(first, last + 1)


def sign(secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class CallrSim(ProviderSim):
    code = "callr"
    root = "/json-rpc/v1.1"

    @classmethod
    def account_credentials(cls, label: str) -> tuple[dict[str, str], str, str]:
        return {"api_key": f"sbx-{label}-key"}, "", f"hmac-{label}"

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.methods: dict[str, tuple[Callable[..., Any], int, int]] = {
            "system.get_timestamp": (self.m_timestamp, 0, 0),
            "sms.send": (self.m_sms_send, 3, 4),
            "sms.get": (self.m_sms_get, 1, 1),
            "sms.get_list": (self.m_sms_list, 3, 3),
            "cdr.get": (self.m_cdr_get, 3, 5),
            "apps.get_dids": (self.m_get_dids, 1, 1),
            "account/sub.search": (self.m_sub_search, 0, 2),
            "account/sub.create": (self.m_sub_create, 1, 2),
            "account/sub.edit": (self.m_sub_edit, 2, 3),
            "account/sub.get": (self.m_sub_get, 1, 1),
            "billing.get_prepaid_credit": (self.m_credit, 0, 0),
            "calls.realtime": (self.m_calls_realtime, 2, 3),
        }

    # -- transport ------------------------------------------------------------------------
    def endpoint(self, request: SimRequest) -> str:
        try:
            method = json.loads(request.body or b"null").get("method")
        except (ValueError, AttributeError):
            return "invalid"
        return method if isinstance(method, str) else "invalid"

    def authenticate(self, request: SimRequest) -> SimAccount | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "api-key" and value:
            return self.sandbox.find_account("callr", api_key=value.strip())
        if scheme.lower() == "basic" and value:
            try:
                login, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return self.sandbox.find_account("callr", login=login, password=password)
        return None

    @staticmethod
    def rpc_error(rid: Any, code: int, message: str, data: Any = None, status: int = 200) -> SimResponse:
        # RPC-level errors come back with HTTP 200 (PROVIDER_NOTES §5).
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        return SimResponse.json({"jsonrpc": "2.0", "id": rid, "error": error}, status)

    def error_response(self, status: int, message: str) -> SimResponse:
        return self.rpc_error(None, status, message, status=status)

    def malformed_response(self) -> SimResponse:
        return SimResponse(
            200, b'{"jsonrpc":"2.0","id":1,"result":[{"hash":', {"content-type": "application/json"}
        )

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path.rstrip("/") != "/json-rpc/v1.1":
            return SimResponse.text("Not Found", 404)
        if request.method != "POST":
            return SimResponse.text("Method Not Allowed", 405)
        try:
            envelope = json.loads(request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self.rpc_error(None, -32700, "Parse error")
        if not isinstance(envelope, dict):
            return self.rpc_error(None, -32600, "Invalid Request")
        rid = envelope.get("id")
        method, params = envelope.get("method"), envelope.get("params", [])
        if envelope.get("jsonrpc") != "2.0" or not isinstance(method, str) or rid is None:
            return self.rpc_error(rid, -32600, "Invalid Request")
        if not isinstance(params, list):  # positional params only
            return self.rpc_error(rid, -32602, "Invalid params", "params must be a positional array")
        account = self.authenticate(request)
        if account is None:
            return self.rpc_error(rid, 401, "Authentication failed")
        if method not in self.methods:
            return self.rpc_error(rid, -32601, "Method not found", method)
        fn, low, high = self.methods[method]
        if not low <= len(params) <= high:
            return self.rpc_error(rid, -32602, "Invalid params", f"{method} takes {low}..{high} params")
        try:
            result = fn(account, *params)
        except RpcError as exc:
            return self.rpc_error(rid, exc.code, exc.message, exc.data)
        return SimResponse.json({"jsonrpc": "2.0", "id": rid, "result": result})

    # -- accounts -------------------------------------------------------------------------
    def setup_account(self, account: SimAccount) -> None:
        rng = account.rng("account")
        subs = {}
        for n in range(2 + account.seed % 2):
            h = f"{perm32(n, account.seed + 101):08X}"
            subs[h] = subaccount_record(
                h,
                {"company": f"Client {n + 1}", "firstname": "", "lastname": ""},
                [f"client{n + 1}@example.com"],
                login=f"sub{account.seed}_{n + 1}",
                credit=f"{rng.randint(0, 50000)}.00",
                disabled=n == 2,
            )
        account.state.update(
            sms={},  # live SMS by hash
            cdr=[],  # live CDRs: (type, record)
            subs=subs,
            credit=Decimal(rng.randint(1000, 99999)) / 100,
            counter=0,
        )

    def _next(self, account: SimAccount) -> int:
        account.state["counter"] += 1
        return account.state["counter"]

    # -- seeded history -------------------------------------------------------------------
    def seeded_sms(self, account: SimAccount, i: int) -> dict[str, Any]:
        rng = account.rng("sms", i)
        created = history_time(account, i, SPAN, account.size)
        inbound = rng.random() < 0.25
        prefix, _ = COUNTRIES[rng.randrange(len(COUNTRIES))]
        peer = valid_e164(prefix + "".join(str(rng.randrange(10)) for _ in range(9)))
        # Our side is always one of the account's own DIDs (so a reply can be sent from it).
        own = self._own_did(account, "".join(str(rng.randrange(10)) for _ in range(9)))
        text = TEXTS[rng.randrange(len(TEXTS))].format(n=rng.randrange(10000))
        if inbound:
            status, err, debit = "RECEIVED", "", "0.00"
        else:
            roll = rng.random()
            status = next(
                s
                for limit, s in ((0.85, "SENT"), (0.9, "DELIVERED"), (0.97, "ERROR"), (1, "EXPIRED"))
                if roll < limit
            )
            err = "Unreachable destination" if status == "ERROR" else ""
            debit = f"{rng.randint(300, 900) / 100:.2f}"  # cents with decimals: 3.00..9.00 cents
        sent = created + timedelta(seconds=rng.randint(0, 5))
        return {
            "type": "IN" if inbound else "OUT",
            "hash": f"{perm32(i, account.seed):08X}",
            "from": peer if inbound else rng.choice(("SMS", "Switchboard", own)),
            "to": own if inbound else peer,
            "text": text,
            "options": {},
            "b_customer_mode": "PREPAID",
            "b_customer_debit": debit,
            "status": status,
            "status_error": err,
            "date_creation": fmt(created),
            "date_update": fmt(sent + timedelta(seconds=rng.randint(1, 60))),
            "date_sent": None if inbound else fmt(sent),
            "date_received": fmt(created) if inbound else None,
            "parts": 1 if len(text) <= 160 else 2,
            "encoding": "GSM",
            "nature": "ALERTING",
            "user_data": "",
        }

    def cdr_count(self, account: SimAccount) -> int:
        return account.size // 4

    def seeded_cdr(self, account: SimAccount, j: int) -> tuple[str, dict[str, Any]]:
        rng = account.rng("cdr", j)
        start = history_time(account, j, SPAN, self.cdr_count(account))
        kind = "IN" if rng.random() < 0.4 else "OUT"
        roll = rng.random()
        answered = roll < 0.7
        duration_answered = rng.randint(5, 900) if answered else 0
        ring = rng.randint(2, 30)
        answer = start + timedelta(seconds=ring) if answered else None
        hangup = start + timedelta(seconds=ring + duration_answered)
        peer = valid_e164(
            COUNTRIES[rng.randrange(len(COUNTRIES))][0] + "".join(str(rng.randrange(10)) for _ in range(9))
        )
        did = self._own_did(account, "".join(str(rng.randrange(10)) for _ in range(9)))
        record: dict[str, Any] = {
            "callid": CALLID_SEED_BASE + j,
            "cli_pres": "allowed_passed_screen",
            "cli_number": peer if kind == "IN" else did,
            "cli_name": "",
            "start": fmt(start),
            "answer": fmt(answer),
            "hangup": fmt(hangup),
            "hangupcause": 16,
            "duration": ring + duration_answered,
            "duration_answered": duration_answered,
            "duration_billed": math.ceil(duration_answered / 60) * 60,
            "billing_customer_cost_label": "France Mobile",
            "billing_customer_credit_eur": "0.00",
            # cents with 2 decimals, e.g. "12.40" = 0.124 EUR
            "billing_customer_debit_eur": f"{duration_answered * rng.randint(1, 30) / 100:.2f}",
            "scenario_name": "Main",
            "scenario_hash": f"{perm32(1, account.seed + 7):08X}",
            "package_name": "REALTIME10",
            "customer_field": "",
        }
        if kind == "IN":
            record.update(
                did_intl_number=did,
                did_hash=f"{perm32(j % 3, account.seed + 3):08X}",
                cli_country_code="FR",
                cli_number_type="MOBILE",
                hangupsource=rng.choice(("CALLER", "CALLEE")) if answered else "CALLER",
            )
        else:
            dialstatus = "ANSWER" if answered else rng.choice(("BUSY", "NOANSWER", "CANCEL", "CONGESTION"))
            record.update(
                callid_in=0,
                number=peer,
                number_country_code="FR",
                number_type="MOBILE",
                dialstatus=dialstatus,
                hangupsource=rng.choice(("CALLER", "CALLEE")) if answered else "GATEWAY",
            )
        return kind, record

    def _own_did(self, account: SimAccount, draw: str) -> str:
        """One of the account's DIDs, picked by a seeded draw."""
        dids = self.dids(account)
        return dids[int(draw) % len(dids)]["intl_number"]

    def dids(self, account: SimAccount) -> list[dict[str, Any]]:
        out = []
        for n in range(3 + account.seed % 3):
            rng = account.rng("did", n)
            local = "0" + valid_e164("+33" + "".join(str(rng.randrange(10)) for _ in range(9)))[3:]
            out.append(
                {
                    "hash": f"{perm32(n, account.seed + 3):08X}",
                    "intl_number": "+33" + local[1:],
                    "local_number": local,
                    "local_number_f": " ".join(local[k : k + 2] for k in range(0, 10, 2)),
                    "country_code": "FR",
                    "type": DID_TYPES[n % len(DID_TYPES)],
                    "class": "GOLD" if n == 0 else "CLASSIC",
                    "contract_auto_renew": True,
                    "app": None,
                }
            )
        return out

    # -- live records ---------------------------------------------------------------------
    def _present(self, record: dict[str, Any]) -> dict[str, Any]:
        """A live SMS as the API shows it now: its final status once its time has come."""
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        final = record.get("_final")
        if final and time.time() >= record["_final_at"]:
            out.update(final)
        return out

    def _live_sms(self, account: SimAccount) -> Iterator[dict[str, Any]]:
        for record in account.state["sms"].values():
            yield self._present(record)

    # -- methods --------------------------------------------------------------------------
    def m_timestamp(self, account: SimAccount) -> int:
        return int(time.time())

    def m_credit(self, account: SimAccount) -> str:
        return f"{account.state['credit']:.2f}"

    def m_sms_send(self, account: SimAccount, sender: Any, to: Any, text: Any, options: Any = None) -> str:
        if not all(isinstance(v, str) for v in (sender, to, text)):
            raise invalid_params("from, to and text must be strings")
        if options is not None and not isinstance(options, dict):
            raise invalid_params("options must be an SMS.Options object or null")
        if not E164.match(to):
            raise RpcError(151, "Invalid property value", {"property": "to", "value": to})
        if sender not in ("", "SMS") and not (E164.match(sender) or ALPHA_SENDER.match(sender)):
            raise RpcError(151, "Invalid property value", {"property": "from", "value": sender})
        if not text:
            raise RpcError(150, "Missing property", {"property": "text"})
        webhook = (options or {}).get("webhook")
        if webhook is not None and not (
            isinstance(webhook, dict) and isinstance(webhook.get("endpoint"), str)
        ):
            raise RpcError(151, "Invalid property value", {"property": "options.webhook.endpoint"})
        n = self._next(account)
        h = f"{perm32(LIVE_BASE + n, account.seed):08X}"
        now = datetime.now(UTC).replace(microsecond=0)
        parts = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
        debit = Decimal("4.50") * parts  # cents
        fail = to.endswith("0000")
        delay = 1.0
        record = {
            "type": "OUT",
            "hash": h,
            "from": sender or "SMS",
            "to": to,
            "text": text,
            "options": options or {},
            "b_customer_mode": "PREPAID",
            "b_customer_debit": f"{debit:.2f}",
            "status": "PENDING",
            "status_error": "",
            "date_creation": fmt(now),
            "date_update": fmt(now),
            "date_sent": None,
            "date_received": None,
            "parts": parts,
            "encoding": "GSM",
            "nature": (options or {}).get("nature") or "ALERTING",
            "user_data": (options or {}).get("user_data") or "",
        }
        done_at = now + timedelta(seconds=2)
        record["_final"] = {
            "status": "ERROR" if fail else "SENT",
            "status_error": "Unreachable destination" if fail else "",
            "date_sent": None if fail else fmt(now + timedelta(seconds=1)),
            "date_update": fmt(done_at),
        }
        record["_final_at"] = time.time() + delay
        account.state["sms"][h] = record
        account.state["credit"] -= debit / 100
        url = webhook["endpoint"] if webhook else account.hook("events")
        final = {k: v for k, v in record.items() if not k.startswith("_")} | record["_final"]
        self._schedule(account, url, "sms.mt.status_update", final, dynamic=bool(webhook), delay=delay)
        return h

    def m_sms_get(self, account: SimAccount, h: Any) -> dict[str, Any]:
        if not isinstance(h, str):
            raise invalid_params("hash must be a string")
        if h in account.state["sms"]:
            return self._present(account.state["sms"][h])
        for i in self._hash_lookup(account, h):
            return self.seeded_sms(account, i)
        raise RpcError(115, "Object not found", {"hash": h})

    def _hash_lookup(self, account: SimAccount, h: str) -> Iterator[int]:
        # Invert perm32 by search would be costly; seeded hashes are checked by brute force
        # only for small accounts, which is all tests need.
        if re.fullmatch(r"[0-9A-F]{8}", h) and account.size <= 100_000:
            for i in range(account.size):
                if f"{perm32(i, account.seed):08X}" == h:
                    yield i
                    return

    def _range(self, kind: Any, lo: Any, hi: Any) -> tuple[str, datetime, datetime]:
        if kind not in ("IN", "OUT"):
            raise invalid_params("type must be IN or OUT")
        start, end = parse_dt(lo, "from"), parse_dt(hi, "to")
        return kind, start, end + timedelta(seconds=1)  # `to` is inclusive, to the second

    def m_sms_list(self, account: SimAccount, kind: Any, lo: Any, hi: Any) -> list[dict[str, Any]]:
        kind, start, end = self._range(kind, lo, hi)
        out = []
        for i in index_range(account, account.size, start, end):
            record = self.seeded_sms(account, i)
            if record["type"] == kind:
                out.append(record)
        for record in self._live_sms(account):
            created = datetime.strptime(record["date_creation"], CALLR_TIME).replace(tzinfo=UTC)
            if record["type"] == kind and start <= created < end:
                out.append(record)
        return out

    def m_cdr_get(
        self, account: SimAccount, kind: Any, lo: Any, hi: Any, app: Any = None, number: Any = None
    ) -> list[dict[str, Any]]:
        kind, start, end = self._range(kind, lo, hi)
        if not all(v is None or isinstance(v, str) for v in (app, number)):
            raise invalid_params("app and number must be strings or null")
        out = []
        for j in index_range(account, self.cdr_count(account), start, end):
            k, record = self.seeded_cdr(account, j)
            if k == kind:
                out.append(record)
        for k, record in account.state["cdr"]:
            started = datetime.strptime(record["start"], CALLR_TIME).replace(tzinfo=UTC)
            if k == kind and start <= started < end:
                out.append(record)
        if app:
            out = [r for r in out if r.get("scenario_hash") == app]
        if number:
            out = [r for r in out if number in (r.get("number"), r.get("did_intl_number"))]
        return out

    def m_get_dids(self, account: SimAccount, only_available: Any) -> list[dict[str, Any]]:
        if not isinstance(only_available, bool):
            raise invalid_params("only_available must be a boolean")
        return self.dids(account)

    def _public_sub(self, sub: dict[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(sub))
        out["credentials"] = {"login": sub["credentials"]["login"]}  # the password is shown once
        return out

    def m_sub_search(self, account: SimAccount, filters: Any = None, options: Any = None) -> dict[str, Any]:
        if not all(v is None or isinstance(v, dict) for v in (filters, options)):
            raise invalid_params("filters and options must be objects or null")
        archived = (filters or {}).get("archived", False)
        offset = (options or {}).get("offset", 0)
        quantity = (options or {}).get("quantity", 50)
        if not isinstance(offset, int) or not isinstance(quantity, int) or offset < 0 or quantity < 1:
            raise invalid_params("offset and quantity must be non-negative integers")
        subs = [
            s
            for s in account.state["subs"].values()
            if archived is None or s["state"]["archived"] == archived
        ]
        hits = [self._public_sub(s) for s in subs[offset : offset + quantity]]
        return {
            "hits": hits,
            "offset": offset,
            "total": len(subs),
            "has_more": offset + len(hits) < len(subs),
        }

    def _sub(self, account: SimAccount, h: Any) -> dict[str, Any]:
        if not isinstance(h, str):
            raise invalid_params("id must be a string")
        if h not in account.state["subs"]:
            raise RpcError(115, "Object not found", {"hash": h})
        return account.state["subs"][h]

    def m_sub_get(self, account: SimAccount, h: Any) -> dict[str, Any]:
        return self._public_sub(self._sub(account, h))

    def m_sub_create(self, account: SimAccount, properties: Any, options: Any = None) -> dict[str, Any]:
        if not isinstance(properties, dict) or not (options is None or isinstance(options, dict)):
            raise invalid_params("properties must be an object, options an object or null")
        acc = properties.get("account")
        if not isinstance(acc, dict) or not (acc.get("company") or acc.get("lastname")):
            raise RpcError(150, "Missing property", {"property": "account.company"})
        emails = (properties.get("contact") or {}).get("emails")
        if not isinstance(emails, list) or len(emails) != 1 or "@" not in str(emails[0]):
            raise RpcError(151, "Invalid property value", {"property": "contact.emails"})
        password = ((options or {}).get("password") or {"method": "AUTO"}) or {}
        secret = password.get("value") if password.get("method") == "MANUAL" else None
        n = self._next(account)
        h = f"{perm32(LIVE_BASE + n, account.seed + 101):08X}"
        sub = subaccount_record(
            h,
            {"company": acc.get("company", ""), "firstname": acc.get("firstname", ""), "lastname": ""},
            emails,
            login=f"sub{account.seed}_{h.lower()}",
        )
        account.state["subs"][h] = sub
        created = self._public_sub(sub)
        created["credentials"]["password"] = secret or account.rng("subpw", n).randbytes(9).hex()
        return created

    def m_sub_edit(self, account: SimAccount, h: Any, properties: Any, options: Any = None) -> bool:
        sub = self._sub(account, h)
        if not isinstance(properties, dict) or not (options is None or isinstance(options, dict)):
            raise invalid_params("properties must be an object, options an object or null")
        unknown = set(properties) - {"account", "contact", "params"}
        if unknown:
            raise RpcError(151, "Invalid property value", {"property": ",".join(sorted(unknown))})
        for part in ("account", "contact", "params"):
            if part in properties:
                if not isinstance(properties[part], dict):
                    raise RpcError(151, "Invalid property value", {"property": part})
                sub[part].update(properties[part])
        return True

    def m_calls_realtime(self, account: SimAccount, app: Any, target: Any, options: Any = None) -> int:
        if not isinstance(app, str) or not isinstance(target, dict):
            raise invalid_params("app must be a hash, target a Target object")
        if not re.fullmatch(r"[0-9A-Z]{8}", app):
            raise RpcError(151, "Invalid property value", {"property": "app"})
        number, timeout = target.get("number"), target.get("timeout", 30)
        if not isinstance(number, str) or not E164.match(number):
            raise RpcError(151, "Invalid property value", {"property": "target.number"})
        if not isinstance(timeout, int) or not 5 <= timeout <= 300:
            raise RpcError(151, "Invalid property value", {"property": "target.timeout"})
        n = self._next(account)
        callid = CALLID_LIVE_BASE + n
        now = datetime.now(UTC).replace(microsecond=0)
        record = {
            "callid": callid,
            "callid_in": 0,
            "cli_pres": "allowed_passed_screen",
            "cli_number": (options or {}).get("cli") or "",
            "cli_name": "",
            "number": number,
            "number_country_code": "FR",
            "number_type": "MOBILE",
            "start": fmt(now),
            "answer": None,
            "hangup": None,
            "hangupcause": 0,
            "hangupsource": "",
            "dialstatus": "",
            "duration": 0,
            "duration_answered": 0,
            "duration_billed": 0,
            "billing_customer_cost_label": "",
            "billing_customer_credit_eur": "0.00",
            "billing_customer_debit_eur": "0.00",
            "scenario_hash": app,
            "scenario_name": "Realtime",
            "package_name": "REALTIME10",
            "customer_field": (options or {}).get("cdr_field") or "",
        }
        self._schedule(account, account.hook("events"), "call.outbound_start", dict(record))
        record.update(
            answer=fmt(now + timedelta(seconds=3)),
            hangup=fmt(now + timedelta(seconds=33)),
            hangupsource="CALLEE",
            dialstatus="ANSWER",
            duration=33,
            duration_answered=30,
            duration_billed=60,
            billing_customer_debit_eur="6.00",
        )
        account.state["cdr"].append(("OUT", record))
        self._schedule(account, account.hook("events"), "call.outbound_hangup", dict(record), delay=2)
        return callid

    # -- webhooks ---------------------------------------------------------------------------
    def _schedule(
        self,
        account: SimAccount,
        url: str,
        etype: str,
        data: dict[str, Any],
        *,
        dynamic: bool = False,
        delay: float = 1.0,
    ) -> dict[str, Any]:
        n = self._next(account)
        rng = account.rng("event", n)
        event_id = f"{rng.randrange(10**19):019d}" + "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(13)
        )
        event = {
            "event_at": iso_ms(datetime.now(UTC)),
            "event_id": event_id,
            "hook_hash": None if dynamic else f"{perm32(0, account.seed + 55):08X}",
            "try": 0,
            "type": etype,
            "data": data,
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "CALLR/API 0.9942",
            "X-CALLR-EventId": event_id,
        }
        if account.webhook_secret:
            headers["X-CALLR-HmacSignature"] = sign(account.webhook_secret, body)
        self.sandbox.outbox.schedule("callr", url, body, headers, delay=delay)
        return event

    def emit(self, account: SimAccount, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).replace(microsecond=0)
        did = self.dids(account)[0]["intl_number"]
        if kind == "sms":
            n = self._next(account)
            h = f"{perm32(LIVE_BASE + n, account.seed):08X}"
            record = {
                "type": "IN",
                "hash": h,
                "from": params.get("from", "+33612345678"),
                "to": params.get("to", did),
                "text": params.get("text", params.get("body", "Hello from the sandbox")),
                "options": {},
                "b_customer_mode": "PREPAID",
                "b_customer_debit": "0.00",
                "status": "RECEIVED",
                "status_error": "",
                "date_creation": fmt(now),
                "date_update": fmt(now),
                "date_sent": None,
                "date_received": fmt(now),
                "parts": 1,
                "encoding": "GSM",
                "nature": "ALERTING",
                "user_data": "",
            }
            account.state["sms"][h] = record
            event = self._schedule(account, account.hook("events"), "sms.mo", dict(record))
            return {"kind": "sms", "hash": h, "event_id": event["event_id"], "type": "sms.mo"}
        if kind == "call":
            n = self._next(account)
            callid = CALLID_LIVE_BASE + n
            record = {
                "callid": callid,
                "cli_pres": "allowed_passed_screen",
                "cli_number": params.get("from", "+33612345678"),
                "cli_name": "",
                "cli_country_code": "FR",
                "cli_number_type": "MOBILE",
                "did_intl_number": params.get("to", did),
                "did_hash": self.dids(account)[0]["hash"],
                "start": fmt(now),
                "answer": None,
                "hangup": None,
                "hangupcause": 0,
                "hangupsource": "",
                "duration": 0,
                "duration_answered": 0,
                "duration_billed": 0,
                "billing_customer_cost_label": "",
                "billing_customer_credit_eur": "0.00",
                "billing_customer_debit_eur": "0.00",
                "scenario_hash": f"{perm32(1, account.seed + 7):08X}",
                "scenario_name": "Main",
                "package_name": "REALTIME10",
                "customer_field": "",
            }
            start_event = self._schedule(account, account.hook("events"), "call.inbound_start", dict(record))
            talk = int(params.get("duration", 42))
            record.update(
                answer=fmt(now + timedelta(seconds=2)),
                hangup=fmt(now + timedelta(seconds=2 + talk)),
                hangupsource="CALLER",
                duration=2 + talk,
                duration_answered=talk,
                duration_billed=math.ceil(talk / 60) * 60,
                billing_customer_debit_eur=f"{Decimal(talk) / 10:.2f}",
            )
            account.state["cdr"].append(("IN", record))
            end_event = self._schedule(
                account, account.hook("events"), "call.inbound_hangup", dict(record), delay=2
            )
            return {
                "kind": "call",
                "callid": callid,
                "event_ids": [start_event["event_id"], end_event["event_id"]],
                "types": ["call.inbound_start", "call.inbound_hangup"],
            }
        raise NotImplementedError(f"callr cannot emit {kind}")
