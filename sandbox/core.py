"""The sandbox core: one stateful simulator serving all four provider APIs.

Paths are prefixed by provider code (`/46elks/a1/sms`, `/sipcentric/api/v1/...`,
`/callr/json-rpc/v1.1/`, `/jambonz/v1/...`); `/_sandbox/...` is the control API (accounts,
ledger, faults, emitting events, flushing webhooks). It runs in-process for tests through
`Sandbox.transport()` (an httpx transport) and as its own process (`run_sandbox`).

Provider simulators (one module each in this package) subclass `sim.ProviderSim`; this
module holds what the Sandbox adds around them: accounts, the ledger, faults and the
webhook outbox. Nothing here imports Django.
"""

from __future__ import annotations

import hashlib
import json
import pkgutil
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from fnmatch import fnmatch
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from .sim import (  # noqa: F401 (re-exported: the sandbox's public names)
    ProviderSim,
    SimAccount,
    SimRequest,
    SimResponse,
    history_time,
    valid_e164,
)

_PACKAGE_PATH = [str(Path(__file__).resolve().parent)]


# -- ledger -------------------------------------------------------------------------------
@dataclass
class LedgerEntry:
    seq: int
    at: float
    provider: str
    account: str  # remote id of the authenticated account, "" if none
    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    body: str
    status: int | None
    fault: str = ""


class Ledger:
    """Every request the sandbox received, queryable, so tests can prove a send happened once."""

    def __init__(self):
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    def add(self, **kwargs) -> LedgerEntry:
        with self._lock:
            entry = LedgerEntry(seq=len(self._entries) + 1, at=time.time(), **kwargs)
            self._entries.append(entry)
            return entry

    def entries(
        self, provider: str | None = None, endpoint: str | None = None, account: str | None = None
    ) -> list[LedgerEntry]:
        with self._lock:
            items = list(self._entries)
        return [
            e
            for e in items
            if (provider is None or e.provider == provider)
            and (endpoint is None or fnmatch(e.endpoint, endpoint))
            and (account is None or e.account == account)
        ]

    def count(self, **filters) -> int:
        return len(self.entries(**filters))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# -- faults -------------------------------------------------------------------------------
FAULT_KINDS = ("latency", "error", "rate_limit", "timeout", "drop", "malformed", "timeout_before")


@dataclass
class FaultRule:
    """Inject `kind` on matching requests, for the next `count` of them and/or at `rate`.

    kinds: latency (sleep `latency` s, then answer), error (a `status` 5xx in the provider's
    format), rate_limit (429 with Retry-After `retry_after`), timeout (the request takes
    effect, no answer arrives), timeout_before (no effect, no answer), drop (effect, then
    the connection closes), malformed (a truncated body)."""

    kind: str
    provider: str = "*"
    endpoint: str = "*"  # fnmatch against ProviderSim.endpoint(), e.g. "POST /a1/sms"
    count: int | None = None
    rate: float = 1.0
    status: int = 503
    retry_after: float = 1
    latency: float = 0.0
    id: int = 0
    hits: int = 0

    def matches(self, provider: str, endpoint: str) -> bool:
        return fnmatch(provider, self.provider) and fnmatch(endpoint, self.endpoint)


class Faults:
    def __init__(self, seed: int = 0):
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_id = 1

    def add(self, kind: str, **kwargs) -> FaultRule:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            rule = FaultRule(kind=kind, id=self._next_id, **kwargs)
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, provider: str, endpoint: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(provider, endpoint):
                    continue
                if rule.count is not None and rule.hits >= rule.count:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                rule.hits += 1
                return rule
        return None


# -- webhook outbox -------------------------------------------------------------------------
@dataclass
class OutgoingWebhook:
    url: str
    body: bytes
    headers: dict[str, str]
    due: float
    method: str = "POST"
    attempts: int = 0
    status: int | None = None
    provider: str = ""


class Outbox:
    def __init__(self):
        self._items: list[OutgoingWebhook] = []
        self._lock = threading.Lock()
        self.delivered: list[OutgoingWebhook] = []

    def schedule(
        self,
        provider: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        delay: float = 0.0,
        method: str = "POST",
    ) -> None:
        if not url:
            return
        with self._lock:
            self._items.append(
                OutgoingWebhook(url, body, headers, time.time() + delay, method, provider=provider)
            )

    def take_due(self, now: float | None = None, everything: bool = False) -> list[OutgoingWebhook]:
        now = time.time() if now is None else now
        with self._lock:
            due = [w for w in self._items if everything or w.due <= now]
            self._items = [w for w in self._items if w not in due]
        return sorted(due, key=lambda w: w.due)

    def retry_later(self, hook: OutgoingWebhook, delay: float) -> None:
        hook.due = time.time() + delay
        with self._lock:
            self._items.append(hook)

    def pending(self) -> int:
        with self._lock:
            return len(self._items)


# -- the sandbox -------------------------------------------------------------------------------
class Sandbox:
    def __init__(self, *, fault_seed: int = 0, sims: Iterable[type[ProviderSim]] | None = None):
        self.ledger = Ledger()
        self.faults = Faults(fault_seed)
        self.outbox = Outbox()
        self.accounts: dict[str, list[SimAccount]] = {}
        self._lock = threading.RLock()
        self.sims: dict[str, ProviderSim] = {}
        for sim_cls in sims if sims is not None else default_sims():
            self.sims[sim_cls.code] = sim_cls(self)
        self.sleep: Callable[[float], None] = time.sleep

    # accounts ---------------------------------------------------------------------------
    def add_account(
        self,
        provider: str,
        credentials: dict[str, str],
        *,
        remote_id: str = "",
        seed: int = 0,
        size: int = 100,
        anchor: datetime | None = None,
        webhook_base: str = "",
        webhook_secret: str = "",
        parent: SimAccount | None = None,
    ) -> SimAccount:
        """Register an account (idempotent on provider + credentials)."""
        with self._lock:
            for existing in self.accounts.get(provider, []):
                if existing.credentials == credentials:
                    existing.webhook_base = webhook_base or existing.webhook_base
                    existing.webhook_secret = webhook_secret or existing.webhook_secret
                    return existing
            account = SimAccount(
                provider=provider,
                remote_id=remote_id
                or hashlib.sha1(repr((provider, sorted(credentials.items()))).encode()).hexdigest()[:16],  # noqa: S324
                credentials=dict(credentials),
                seed=seed,
                size=size,
                webhook_base=webhook_base,
                webhook_secret=webhook_secret,
                parent=parent,
            )
            if anchor is not None:
                account.anchor = anchor
            self.accounts.setdefault(provider, []).append(account)
            self.sims[provider].setup_account(account)
            return account

    def find_account(self, provider: str, **credentials: str) -> SimAccount | None:
        with self._lock:
            for account in self.accounts.get(provider, []):
                if all(account.credentials.get(k) == v for k, v in credentials.items()):
                    return account
        return None

    def base_url(self, provider: str, root: str = "http://sandbox") -> str:
        """The base URL an adapter should use for this provider."""
        sim = self.sims.get(provider)
        return f"{root.rstrip('/')}/{provider}{sim.root if sim else ''}"

    # handling ---------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        full_path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        remote_addr: str = "127.0.0.1",
    ) -> SimResponse:
        headers = {k.lower(): v for k, v in headers.items()}
        if full_path.startswith("/_sandbox/"):
            return self._control(method, full_path, query, body)
        provider, _, rest = full_path.lstrip("/").partition("/")
        sim = self.sims.get(provider)
        if sim is None:
            return SimResponse.text("Unknown provider prefix.", 404)
        request = SimRequest(method, "/" + rest, query, headers, body, remote_addr)
        endpoint = sim.endpoint(request)
        account = sim.authenticate(request)
        rule = self.faults.pick(provider, endpoint)
        response: SimResponse
        if rule is not None and rule.kind == "latency":
            self.sleep(rule.latency)
            rule = None
        if rule is None or rule.kind in ("timeout", "drop"):
            try:
                response = sim.handle(request)
            except Exception as exc:  # a simulator bug must look like a provider 500
                response = sim.error_response(500, f"sandbox error: {exc}")
            if rule is not None:
                response.after = rule.kind
        elif rule.kind == "timeout_before":
            response = SimResponse(0, after="timeout_before")
        elif rule.kind == "error":
            response = sim.error_response(rule.status, "Service temporarily unavailable")
        elif rule.kind == "rate_limit":
            response = sim.error_response(429, "Too many requests")
            response.headers["retry-after"] = str(
                int(rule.retry_after) if float(rule.retry_after).is_integer() else rule.retry_after
            )
        else:  # malformed
            response = sim.malformed_response()
        self.ledger.add(
            provider=provider,
            account=account.remote_id if account else "",
            method=method,
            path=request.path,
            endpoint=endpoint,
            query=dict(query),
            body=body.decode("utf-8", "replace")[:4000],
            status=response.status or None,
            fault=rule.kind if rule else "",
        )
        return response

    # webhooks --------------------------------------------------------------------------
    def deliver_webhooks(
        self, client: httpx.Client | None = None, *, everything: bool = True, now: float | None = None
    ) -> list[OutgoingWebhook]:
        """POST due webhooks (all of them by default, for tests). Failed ones are retried
        later with backoff, as providers do."""
        own = client is None
        client = client or httpx.Client(timeout=10)
        sent = []
        try:
            for hook in self.outbox.take_due(now, everything=everything):
                hook.attempts += 1
                try:
                    response = client.request(hook.method, hook.url, content=hook.body, headers=hook.headers)
                    hook.status = response.status_code
                except httpx.HTTPError:
                    hook.status = None
                if hook.status is None or hook.status >= 300:
                    if hook.attempts < 5:
                        self.outbox.retry_later(hook, min(300, 2**hook.attempts))
                else:
                    self.outbox.delivered.append(hook)
                sent.append(hook)
        finally:
            if own:
                client.close()
        return sent

    def emit(self, provider: str, account: SimAccount, kind: str, **params: Any) -> dict[str, Any]:
        return self.sims[provider].emit(account, kind, params)

    # transport ---------------------------------------------------------------------------
    def transport(self) -> SandboxTransport:
        return SandboxTransport(self)

    # control API -------------------------------------------------------------------------
    def _control(self, method: str, path: str, query: dict[str, str], body: bytes) -> SimResponse:
        data = json.loads(body or b"{}") if method in ("POST", "PUT") else {}
        action = path[len("/_sandbox/") :].strip("/")
        if action == "accounts" and method == "POST":
            acc = self.add_account(
                data["provider"],
                data["credentials"],
                remote_id=data.get("remote_id", ""),
                seed=int(data.get("seed", 0)),
                size=int(data.get("size", 100)),
                webhook_base=data.get("webhook_base", ""),
                webhook_secret=data.get("webhook_secret", ""),
            )
            return SimResponse.json({"provider": acc.provider, "remote_id": acc.remote_id}, 201)
        if action == "accounts" and method == "GET":
            return SimResponse.json(
                [
                    {"provider": a.provider, "remote_id": a.remote_id, "size": a.size, "seed": a.seed}
                    for accs in self.accounts.values()
                    for a in accs
                ]
            )
        if action == "balance" and method == "POST":
            # Top an account up (or drain it): {"provider", "credentials", "balance"} in the
            # provider's own units, for load runs that would otherwise run out of credit.
            acc = self.find_account(data["provider"], **data["credentials"])
            if acc is None or "balance" not in acc.state:
                return SimResponse.json({"error": "no such account with a balance"}, 404)
            acc.state["balance"] = data["balance"]
            return SimResponse.json({"remote_id": acc.remote_id, "balance": data["balance"]})
        if action == "ledger" and method == "GET":
            entries = self.ledger.entries(query.get("provider"), query.get("endpoint"), query.get("account"))
            return SimResponse.json([asdict(e) for e in entries])
        if action == "ledger" and method == "DELETE":
            self.ledger.clear()
            return SimResponse(204)
        if action == "faults" and method == "POST":
            try:
                rule = self.faults.add(**data)
            except (TypeError, ValueError) as exc:
                return SimResponse.json({"error": str(exc)}, 400)
            return SimResponse.json(asdict(rule), 201)
        if action == "faults" and method == "GET":
            return SimResponse.json([asdict(r) for r in self.faults.rules()])
        if action == "faults" and method == "DELETE":
            self.faults.clear()
            return SimResponse(204)
        if action == "emit" and method == "POST":
            account = (
                self.find_account(data["provider"], **data.get("credentials", {}))
                if data.get("credentials")
                else next(iter(self.accounts.get(data["provider"], [])), None)
            )
            if account is None:
                return SimResponse.json({"error": "no such account"}, 404)
            return SimResponse.json(
                self.emit(data["provider"], account, data["kind"], **data.get("params", {})), 201
            )
        if action == "flush" and method == "POST":
            hooks = self.deliver_webhooks()
            return SimResponse.json({"delivered": len(hooks), "statuses": [h.status for h in hooks]})
        return SimResponse.json({"error": f"unknown control action {method} {action}"}, 404)

    # WSGI --------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        response = self.handle(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", "/"),
            query,
            headers,
            body,
            environ.get("REMOTE_ADDR", ""),
        )
        if response.after:
            # The server drops the connection (or stalls past the client's timeout).
            raise SimulatedFault(response.after)
        reason = HTTP_REASONS.get(response.status, "Unknown")
        start_response(f"{response.status} {reason}", list(response.headers.items()))
        return [response.body]


class SimulatedFault(Exception):
    """Raised out of the WSGI app: the server closes the connection without an answer."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class SandboxTransport(httpx.BaseTransport):
    """An httpx transport into the in-process sandbox, with faults as real httpx errors."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        response = self.sandbox.handle(request.method, request.url.path, query, dict(request.headers), body)
        if response.after == "timeout":
            raise httpx.ReadTimeout("sandbox: simulated timeout", request=request)
        if response.after == "timeout_before":
            # The request never arrived: as a client sees it, a connect timeout.
            raise httpx.ConnectTimeout("sandbox: simulated timeout before the request", request=request)
        if response.after == "drop":
            raise httpx.RemoteProtocolError("sandbox: connection dropped", request=request)
        return httpx.Response(
            response.status, headers=response.headers, content=response.body, request=request
        )


HTTP_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    480: "Temporarily Unavailable",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

def default_sims() -> list[type[ProviderSim]]:
    """The simulator each module of this package defines (a ProviderSim subclass with a
    code), so adding a provider's simulator is adding its module."""
    found: dict[str, type[ProviderSim]] = {}
    for module_info in sorted(pkgutil.iter_modules(_PACKAGE_PATH), key=lambda m: m.name):
        module = import_module(f"{__package__}.{module_info.name}")
        for value in vars(module).values():
            defined_here = isinstance(value, type) and value.__module__ == module.__name__
            if defined_here and issubclass(value, ProviderSim) and value.code:
                if value.code in found:
                    raise ImportError(f"Two simulators for {value.code!r}: {found[value.code]} and {value}")
                found[value.code] = value
    return list(found.values())


def sim_class(code: str) -> type[ProviderSim]:
    """The simulator of one provider (KeyError for a code no module simulates)."""
    return {cls.code: cls for cls in default_sims()}[code]
