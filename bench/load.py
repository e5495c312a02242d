"""Load through the real doors: the stack as `make serve` runs it (gunicorn, a Celery worker
per queue, beat and the sandbox server, started by `scripts/run.sh serve` on the bench
database) driven over HTTP by many concurrent clients. Used by the `serve_*` cases of
bench/cases.py; every loop is bounded in count and in time, and all traffic goes to
127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "8150"))
SANDBOX_PORT = int(os.environ.get("BENCH_SANDBOX_PORT", "8175"))
STARTUP_TIMEOUT = 180.0
# What must never appear in the stack's logs during a run.
LOG_PROBLEMS = re.compile(r"deadlock detected|Traceback|\bERROR\b|CRITICAL|WorkerLostError")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Stack:
    """`scripts/run.sh serve` as a child process group, its output in a log file."""

    log_path: Path
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{WEB_PORT}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{SANDBOX_PORT}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PORT": str(WEB_PORT),
            "SANDBOX_PORT": str(SANDBOX_PORT),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "CELERY_BROKER_URL": os.environ["BENCH_BROKER_URL"],
            "CACHE_KEY_PREFIX": "sb-bench",
            "ACCESS_LOG": "/dev/null",
            "CELERY_LOG_LEVEL": "warning",
            # The per-key throttle is a policy knob (default 600/min); this measures capacity.
            "API_THROTTLE_RATE": "100000/s",  # a one-second window: a short history to check
        }
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own script
            [str(ROOT / "scripts" / "run.sh"), "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.log.write(line)
                self.log.flush()
                self.lines.append(line)
                if "Switchboard is running" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the stack did not start; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None
        self.log.close()

    def problems(self, since: int = 0) -> list[str]:
        """Log lines of errors, tracebacks and deadlocks since line `since`."""
        return [line.rstrip() for line in self.lines[since:] if LOG_PROBLEMS.search(line)]


@contextmanager
def running_stack(log_path: Path) -> Iterator[Stack]:
    stack = Stack(log_path)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


# -- clients -----------------------------------------------------------------------------------------
@dataclass
class Result:
    status: int
    seconds: float
    body: bytes = b""


class Client:
    """One keep-alive HTTP/1.1 connection per thread (what a real client library keeps)."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return conn

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Result:
        start = time.perf_counter()
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    self.local.conn = None
                return Result(response.status, time.perf_counter() - start, data)
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    return Result(599, time.perf_counter() - start)
        raise AssertionError("unreachable")


def fire(
    client: Client, requests: list[tuple[str, str, bytes, dict[str, str]]], concurrency: int
) -> tuple[list[Result], float]:
    """Send every request with `concurrency` threads; (results in order, wall seconds)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda r: client.request(*r), requests))
    return results, time.perf_counter() - start


def paced(
    client: Client, requests: list[tuple[str, str, bytes, dict[str, str]]], per_second: float
) -> list[tuple[float, Result]]:
    """Send at a steady rate (a thread per in-flight request); [(wall time sent, result)]."""
    out: list[tuple[float, Result]] = []
    lock = threading.Lock()
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        for i, req in enumerate(requests):
            delay = start + i / per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)

            def one(req=req) -> None:
                sent = time.time()
                result = client.request(*req)
                with lock:
                    out.append((sent, result))

            pool.submit(one)
    return out


def summary(results: list[Result], wall: float) -> dict:
    latencies = [r.seconds * 1000 for r in results]
    codes = Counter(r.status for r in results)
    return {
        "requests": len(results),
        "per_second": round(len(results) / wall, 1) if wall else 0,
        "wall_seconds": round(wall, 2),
        "median_ms": round(statistics.median(latencies), 1) if latencies else 0,
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "statuses": {str(k): v for k, v in sorted(codes.items())},
        "errors_5xx": sum(v for k, v in codes.items() if k >= 500),
    }


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.2) -> float | None:
    """Seconds until check() held, or None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    return None


def sandbox_json(stack: Stack, method: str, path: str, payload: dict | None = None) -> object:
    conn = http.client.HTTPConnection("127.0.0.1", SANDBOX_PORT, timeout=30)
    try:
        body = json.dumps(payload).encode() if payload is not None else None
        conn.request(method, path, body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return json.loads(data) if data else None
    finally:
        conn.close()


def recipients(n: int, salt: int = 0) -> list[str]:
    """n distinct valid Swedish mobile numbers (none ending in 0000: the sandbox fails those)."""
    out, i = [], 1 + salt * 1_000_000
    while len(out) < n:
        if i % 10_000:
            out.append(f"+4670{i:07d}")
        i += 1
    return out


def send_request(account_id: int, to: str, key: str | None, body: str, api_key: str) -> tuple:
    payload = json.dumps({"provider_account": account_id, "from": "Bench", "to": to, "body": body}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}"}
    if key:
        headers["idempotency-key"] = key
    return ("POST", "/api/v1/messages/", payload, headers)


def bulk_request(account_id: int, to: list[str], body: str, api_key: str) -> tuple:
    payload = json.dumps({"provider_account": account_id, "from": "Bench", "body": body, "recipients": to})
    headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}"}
    return ("POST", "/api/v1/messages/bulk/", payload.encode(), headers)


def dlr_request(token: str, remote_id: str) -> tuple:
    body = urlencode({"id": remote_id, "status": "delivered", "delivered": "2026-11-30 12:00:00.000"})
    return (
        "POST",
        f"/hooks/46elks/{token}/dlr/",
        body.encode(),
        {"content-type": "application/x-www-form-urlencoded"},
    )


def unique_label() -> str:
    return uuid.uuid4().hex[:8]
