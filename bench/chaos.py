"""`make chaos`: the driver. scripts/chaos.sh starts the sandbox server, gunicorn, two Celery
workers and beat on a dedicated database; this process sends messages, bulk sends and calls
through the HTTP API as a client would (retrying with the same Idempotency-Key until it
gets an answer), while it SIGKILLs worker processes, crashes Postgres (`-m immediate`) and
Redis (`shutdown nosave`) and drops every database connection. Then it lets the system
settle and checks: every accepted request is in the database and reached the provider
exactly once, nothing is stuck in queued/sending past one sweep, rollups equal a recount,
no (account, remote id) is stored twice. Every loop is bounded in count and in time, and
all traffic goes to 127.0.0.1. Exit status 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import django
import httpx

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.soak_settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import InterfaceError, OperationalError, close_old_connections, connection  # noqa: E402

from accounts.models import ApiKey, Membership, Role  # noqa: E402
from messaging.models import Message  # noqa: E402

from . import soak  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "scripts" / "services.sh"
CHAOS = ("kill_worker", "crash_postgres", "crash_redis", "drop_connections", "kill_worker")
CLIENT_GIVES_UP_AFTER = 60.0  # seconds of retries per request


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- faults ---------------------------------------------------------------------------------------
def _services(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    subprocess.run([str(SERVICES), *args], env=env, check=False, capture_output=True, timeout=120)  # noqa: S603


def _children(pid: int) -> list[int]:
    try:
        return [
            int(c)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()
        ]
    except OSError:
        return []


def kill_worker(worker_pids: list[int], rng: random.Random) -> str:
    """SIGKILL one pool process of a worker (its parent starts another; the task comes back).
    `worker_pids` are the supervisors: their child is the worker, its children the pool."""
    children = [c for pid in worker_pids for worker in _children(pid) for c in _children(worker)]
    if not children:
        return "no worker child to kill"
    victim = rng.choice(children)
    os.kill(victim, signal.SIGKILL)
    return f"SIGKILL worker process {victim}"


def crash_postgres(_pids, _rng) -> str:
    _services("crash", "postgres")
    time.sleep(2)
    _services("up")
    return "Postgres crashed (-m immediate) and restarted"


def crash_redis(_pids, _rng) -> str:
    _services("crash", "redis")
    time.sleep(2)
    _services("up")
    return "Redis crashed (shutdown nosave) and restarted"


def drop_connections(_pids, _rng) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        dropped = cursor.fetchone()[0]
    return f"terminated {dropped} database connections"


FAULTS = {f.__name__: f for f in (kill_worker, crash_postgres, crash_redis, drop_connections)}


def chaos_loop(stop: threading.Event, every: float, worker_pids: list[int], done: list[str]) -> None:
    rng = random.Random(11)
    for name in CHAOS * 100:  # bounded
        if stop.wait(every):
            return
        try:
            done.append(FAULTS[name](worker_pids, rng))
        except Exception as exc:  # the chaos must go on; the invariants judge the system
            done.append(f"{name} failed: {exc}")
        finally:
            close_old_connections()
        log(done[-1])


# -- a client that retries ------------------------------------------------------------------------
class Client:
    def __init__(self, base_url: str, key: str):
        self.http = httpx.Client(base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {key}"})

    def post(self, path: str, payload: dict, key: str) -> int | None:
        """POST until an answer that is not a failure of ours (2xx or 4xx), at most
        CLIENT_GIVES_UP_AFTER seconds; the final status, or None when it gave up."""
        deadline = time.monotonic() + CLIENT_GIVES_UP_AFTER
        delay = 0.2
        while time.monotonic() < deadline:
            try:
                response = self.http.post(path, json=payload, headers={"Idempotency-Key": key})
                if response.status_code < 500 and response.status_code != 429:
                    return response.status_code
            except httpx.HTTPError:
                pass
            time.sleep(delay)
            delay = min(delay * 2, 3.0)
        return None


def request_for(i: int, accounts, numbers, providers: list[str]) -> tuple[str, str, str, dict]:
    """(key, kind, path, payload) of the i-th request: mostly SMS, some calls and bulk sends."""
    provider = providers[i % len(providers)]
    account = accounts[provider]
    if i % 15 == 7:
        recipients = [soak.recipient("sms", 500_000 + i * 10 + j) for j in range(5)]
        payload = {"provider_account": account.pk, "from": numbers[provider], "body": f"Chaos bulk {i}",
                   "recipients": recipients}  # fmt: skip
        return f"bulk-{i}", "bulk", "/api/v1/messages/bulk/", payload
    if i % 6 == 5 and provider != "sipcentric":  # Sipcentric calls start from a PBX endpoint
        payload = {"provider_account": account.pk, "from": numbers[provider], "to": soak.recipient("call", i),
                   "action": {"connect": "+46709876543"}, "timeout": 20}  # fmt: skip
        return f"call-{i}", "call", "/api/v1/calls/", payload
    payload = {"provider_account": account.pk, "from": numbers[provider], "to": soak.recipient("sms", i),
               "body": f"Chaos message {i}"}  # fmt: skip
    return f"sms-{i}", "sms", "/api/v1/messages/", payload


def drive(
    client: Client, accounts, numbers, seconds: float, sends: int, clients: int, tally: Counter
) -> dict[str, str]:
    """Up to `sends` requests from `clients` concurrent clients, for at most `seconds`, each
    client pausing TICK between its requests; returns key -> kind of every accepted one."""
    accepted: dict[str, str] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    providers = [p for p in soak.PROVIDERS if p in numbers]

    def one_client(first: int) -> None:
        for i in range(first, sends, clients):
            if time.monotonic() >= deadline:
                return
            key, kind, path, payload = request_for(i, accounts, numbers, providers)
            status = client.post(path, payload, key)
            with lock:
                tally[f"{kind}:{status}"] += 1
                if status is not None and status < 300:
                    accepted[key] = kind
            time.sleep(soak.TICK)

    threads = [threading.Thread(target=one_client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted


def _retrying(fn, *args, attempts: int = 30):
    """Run an ORM step of the driver, reconnecting while the database is coming back."""
    for _ in range(attempts):
        try:
            return fn(*args)
        except (OperationalError, InterfaceError):
            connection.close()
            time.sleep(2)
    return fn(*args)


def check_accepted(tenant, accepted: dict[str, str]) -> list[str]:
    failures = []
    sms = [k for k, kind in accepted.items() if kind == "sms"]
    stored = set(
        Message.objects.for_tenant(tenant)
        .filter(idempotency_key__in=sms)
        .values_list("idempotency_key", flat=True)
    )
    lost = sorted(set(sms) - stored)
    if lost:
        failures.append(f"{len(lost)} accepted messages are not in the database: {lost[:10]}")
    calls = [k for k, kind in accepted.items() if kind == "call"]
    from calls.models import Call

    stored_calls = set(
        Call.objects.for_tenant(tenant)
        .filter(idempotency_key__in=calls)
        .values_list("idempotency_key", flat=True)
    )
    if set(calls) - stored_calls:
        failures.append(f"{len(set(calls) - stored_calls)} accepted calls are not in the database")
    from messaging.models import BulkSend

    bulks = [k for k, kind in accepted.items() if kind == "bulk"]
    stored_bulks = BulkSend.objects.for_tenant(tenant).filter(idempotency_key__in=bulks).count()
    if stored_bulks != len(bulks):
        failures.append(f"{len(bulks) - stored_bulks} accepted bulk sends are not in the database")
    return failures


def main() -> None:
    from accounts.rls import rls_bypass

    with rls_bypass("chaos driver"):  # it checks one tenant's rows and the whole server
        run()


def run() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sends", type=int, default=1_000_000, help="Stop after this many requests.")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--chaos-every", type=float, default=8)
    parser.add_argument("--worker-pids", type=int, nargs="+", required=True)
    parser.add_argument("--web-url", required=True)
    parser.add_argument("--settle", type=float, default=150)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "chaos-results.json")
    args = parser.parse_args()
    with httpx.Client(base_url=settings.SANDBOX_URL, timeout=30) as sandbox:
        tenant, accounts = soak.setup(sandbox)
        owner = Membership.objects.filter(tenant=tenant, role=Role.OWNER).first().user
        raw_key = ApiKey.issue(tenant, "chaos", created_by=owner)[1]
        log(f"initial sync: {soak.sync_until_clean(accounts, rounds=3, timeout=120)}")
        numbers = soak.sender_numbers(tenant, accounts)
        client = Client(args.web_url, raw_key)
        tally: Counter = Counter()
        stop, faults = threading.Event(), []
        chaos = threading.Thread(target=chaos_loop, args=(stop, args.chaos_every, args.worker_pids, faults))
        chaos.start()
        try:
            accepted = drive(client, accounts, numbers, args.seconds, args.sends, args.clients, tally)
        finally:
            stop.set()
            chaos.join(timeout=120)
        log(f"traffic done: {dict(tally)}; {len(accepted)} requests accepted; faults: {len(faults)}")
        left = _retrying(soak.settle, tenant, args.settle)
        log(f"{left} sends still queued or in flight after {args.settle:.0f} s")
        final = _retrying(soak.sync_until_clean, accounts, 5, 180)
        log(f"final sync: {final}")
        _retrying(soak.settle, tenant, 60)
        time.sleep(5)  # the last delivery reports
        result = soak.check(tenant, sandbox, [(0, 0.0), (1, 0.0)])
        result["failures"] += check_accepted(tenant, accepted)
        if left:
            result["failures"].append(
                f"{left} sends were still queued or in flight after {args.settle:.0f} s"
            )
    result.pop("worker_rss_mb", None)
    result.update(traffic=dict(tally), accepted=len(accepted), faults=faults, seconds=args.seconds)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))
    if result["failures"]:
        log("FAILED:\n  - " + "\n  - ".join(result["failures"]))
        sys.exit(1)
    log("all invariants hold")


if __name__ == "__main__":
    main()
