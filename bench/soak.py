"""`make soak`: the driver. scripts/soak.sh starts the sandbox server, a Celery worker and
beat, and a web server for the webhooks, on a dedicated database; this process connects a
sandbox account per provider, injects faults, keeps sending messages, placing calls and
syncing for SOAK_MINUTES, then lets everything settle and checks the invariants. Exit
status 1 when any fails. Every loop is bounded in iterations and in time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import unquote_plus

import django
import httpx

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.soak_settings")
django.setup()

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from accounts.models import Membership, Role, Tenant, User  # noqa: E402
from billing.limits import LimitExceeded  # noqa: E402
from billing.rebuild import current, recount  # noqa: E402
from calls.models import Call  # noqa: E402
from calls.services import place_call  # noqa: E402
from messaging.models import Message  # noqa: E402
from messaging.services import IdempotencyConflict, SendRejected, queue_message  # noqa: E402
from providers.adapters.records import Capability  # noqa: E402
from providers.models import ProviderAccount, SyncRun  # noqa: E402
from providers.sandbox_accounts import connect_sandbox_account, sandbox_registration  # noqa: E402
from providers.tasks import start_sync  # noqa: E402

PROVIDERS = ("46elks", "sipcentric", "callr", "jambonz")
# Numbers the tenant holds where the sandbox lists none (as tests/sending/conftest.py).
OUR_NUMBERS = {"46elks": "+46766861234", "callr": "+33612345678", "jambonz": "+46766865555"}
SMS_ENDPOINTS = ("POST /a1/sms", "POST /customers/*/sms", "sms.send", "POST /Accounts/*/Messages")
CALL_ENDPOINTS = ("POST /a1/calls", "POST /customers/*/calls", "calls.realtime", "POST /Accounts/*/Calls")
# Injected on every provider endpoint, each at its rate (the first rule that fires wins).
FAULTS = [
    {"kind": "error", "status": 503, "rate": 0.04},
    {"kind": "error", "status": 500, "rate": 0.02},
    {"kind": "rate_limit", "rate": 0.04, "retry_after": 1},
    {"kind": "timeout", "rate": 0.03},
    {"kind": "timeout_before", "rate": 0.02},
    {"kind": "drop", "rate": 0.03},
    {"kind": "latency", "rate": 0.10, "latency": 0.4},
]
SEND_TERMINAL = {"sent", "delivered", "failed", "received"}
SYNC_EVERY = 20.0  # seconds between sync rounds
TICK = 0.3  # seconds between send attempts


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the worker's memory ----------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the prefork pool), in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


# -- setup ------------------------------------------------------------------------------------------
def setup(sandbox: httpx.Client) -> tuple[Tenant, dict[str, ProviderAccount]]:
    slug = f"soak-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(
        name="Soak", slug=slug, timezone="Europe/Stockholm", default_currency="SEK"
    )
    owner = User.objects.create_user(f"owner@{slug}.soak", "pw")
    Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    accounts = {}
    for i, provider in enumerate(PROVIDERS):
        account = connect_sandbox_account(
            tenant,
            provider,
            settings.SANDBOX_URL,
            label=f"{slug}-{provider}",
            seed=i + 1,
            size=200,
            send_rate=50.0,
            sync_interval=1,
        )
        sandbox.post("/_sandbox/accounts", json=sandbox_registration(account)).raise_for_status()
        accounts[provider] = account
    return tenant, accounts


SYNCED = ("messages", "calls")  # the resources an invariant depends on


def synced(run: SyncRun) -> bool:
    """Messages and calls walked to the end (other resources may fail for reasons of their
    own: a jambonz sandbox account has no service-provider key for subaccounts)."""
    return all((run.resources or {}).get(r, {}).get("status") in ("succeeded", "skipped") for r in SYNCED)


def sync_all(accounts: dict[str, ProviderAccount], timeout: float) -> dict[str, SyncRun]:
    """Start a sync of every account and wait (bounded) for them."""
    runs = {p: start_sync(a, SyncRun.Trigger.COMMAND) for p, a in accounts.items()}
    deadline = time.monotonic() + timeout
    while True:
        for run in runs.values():
            run.refresh_from_db()
        done = all(r.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED) for r in runs.values())
        if done or time.monotonic() > deadline:
            return runs
        time.sleep(1)


def sync_until_clean(accounts: dict[str, ProviderAccount], rounds: int, timeout: float) -> dict[str, str]:
    """Sync until every account's messages and calls went through (a run that lost a race to
    a scheduled one ends "already running"), at most `rounds` times."""
    pending = dict(accounts)
    states: dict[str, str] = {}
    for _ in range(rounds):
        runs = sync_all(pending, timeout)
        for provider, run in runs.items():
            states[provider] = "synced" if synced(run) else f"{run.status}: {run.error[:200]}"
        pending = {p: a for p, a in pending.items() if not synced(runs[p])}
        if not pending:
            break
        time.sleep(2)
    return states


def sender_numbers(tenant: Tenant, accounts: dict[str, ProviderAccount]) -> dict[str, str]:
    PhoneNumber = apps.get_model("numbers", "PhoneNumber")
    numbers = {}
    for provider, account in accounts.items():
        held = PhoneNumber.objects.for_tenant(tenant).filter(provider_account=account).order_by("pk").first()
        if held is None and provider in OUR_NUMBERS:
            held = PhoneNumber.objects.create(
                tenant=tenant,
                number=OUR_NUMBERS[provider],
                provider_account=account,
                remote_id=f"soak-{account.pk}",
                capabilities=["sms", "mms", "voice"],
            )
        if held is not None:
            numbers[provider] = held.number
    return numbers


# -- traffic ----------------------------------------------------------------------------------------
def recipient(kind: str, i: int) -> str:
    """A recipient per message/call, unique, so the ledger tells which send a request was."""
    return f"+4670{(2 if kind == 'sms' else 3)}{i:06d}"


RECIPIENT_RE = re.compile(r"4670([23]\d{6})")


def drive(tenant, accounts, numbers, minutes: float, worker_pid: int) -> dict:
    rng = random.Random(7)
    deadline = time.monotonic() + minutes * 60
    max_iterations = int(minutes * 60 / TICK) + 1
    tally: Counter = Counter()
    memory: list[tuple[float, float]] = []
    started = time.monotonic()
    next_sync = next_sample = 0.0
    keys: list[tuple[str, dict]] = []
    for i in range(max_iterations):
        now = time.monotonic()
        if now >= deadline:
            break
        if now >= next_sample:
            memory.append((round(now - started), rss_mb(worker_pid)))
            next_sample = now + 10
        if now >= next_sync:
            for account in accounts.values():
                start_sync(account, SyncRun.Trigger.COMMAND)
            tally["sync_rounds"] += 1
            next_sync = now + SYNC_EVERY
        provider = rng.choice([p for p in PROVIDERS if p in numbers])
        account = accounts[provider]
        try:
            if i % 6 == 5 and account.can(Capability.PLACE_CALL):
                place_call(
                    tenant,
                    account=account,
                    from_number=numbers[provider],
                    to=recipient("call", i),
                    action={"connect": "+46709876543"},
                    timeout=20,
                    idempotency_key=f"call-{i}",
                )
                tally["calls_placed"] += 1
            elif i % 10 == 9 and keys:
                # A client retrying a request it already made: the same message comes back.
                key, fields = rng.choice(keys)
                queue_message(tenant, idempotency_key=key, **fields)
                tally["replays"] += 1
            else:
                fields = {
                    "account": account,
                    "from_number": numbers[provider],
                    "to": recipient("sms", i),
                    "body": f"Soak message {i}",
                }
                queue_message(tenant, idempotency_key=f"sms-{i}", **fields)
                keys.append((f"sms-{i}", fields))
                tally["messages_queued"] += 1
        except SendRejected as exc:
            tally[f"rejected:{provider}"] += 1
            if tally[f"rejected:{provider}"] == 1:
                log(f"{provider} refused a request: {exc.errors}")
        except (LimitExceeded, IdempotencyConflict) as exc:
            tally[type(exc).__name__] += 1
        time.sleep(TICK)
    memory.append((round(time.monotonic() - started), rss_mb(worker_pid)))
    return {"tally": dict(tally), "memory": memory}


def settle(tenant: Tenant, timeout: float) -> int:
    """Wait (bounded) until no send is queued or in flight; returns how many still are."""
    deadline = time.monotonic() + timeout
    while True:
        busy = (
            Message.objects.for_tenant(tenant)
            .filter(direction="outbound", status__in=["queued", "sending"])
            .count()
            + Call.objects.for_tenant(tenant).filter(state__in=["queued", "placing"]).count()
        )
        if busy == 0 or time.monotonic() > deadline:
            return busy
        time.sleep(2)


# -- invariants -------------------------------------------------------------------------------------
def effective_sends(sandbox: httpx.Client) -> Counter:
    """(kind, recipient index) -> requests the sandbox acted on: answered 2xx, or took effect
    and then timed out / dropped the connection."""
    sends: Counter = Counter()
    for entry in sandbox.get("/_sandbox/ledger").json():
        kind = (
            "sms"
            if any(fnmatch(entry["endpoint"], e) for e in SMS_ENDPOINTS)
            else "call"
            if any(fnmatch(entry["endpoint"], e) for e in CALL_ENDPOINTS)
            else None
        )
        if kind is None:
            continue
        acted = entry["fault"] in ("timeout", "drop") or (
            not entry["fault"] and entry["status"] and entry["status"] < 300
        )
        found = RECIPIENT_RE.findall(unquote_plus(entry["body"]))
        if acted and found:
            sends[(kind, found[0])] += 1
    return sends


def duplicates(model) -> int:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE remote_id <> '' "  # noqa: S608
            "GROUP BY provider_account_id, remote_id HAVING count(*) > 1) d"
        )
        return cursor.fetchone()[0]


def check(tenant: Tenant, sandbox: httpx.Client, memory: list[tuple[float, float]]) -> dict:
    failures: list[str] = []
    sends = effective_sends(sandbox)
    twice = {k: n for k, n in sends.items() if n > 1}
    if twice:
        failures.append(f"sent more than once: {sorted(twice.items())[:10]}")

    ours = Message.objects.for_tenant(tenant).filter(idempotency_key__isnull=False)
    statuses = dict(ours.values_list("status").annotate(n=Count("id")))
    stuck = ours.exclude(status__in=[*SEND_TERMINAL, "unknown"]).count()
    if stuck:
        failures.append(f"{stuck} messages neither terminal nor unknown: {statuses}")
    # An unknown send the provider did act on must have been matched by the final sync, where
    # the provider has a message history to sync at all (jambonz has none).
    unreconciled, no_history = [], []
    for m in (
        ours.filter(status="unknown")
        .select_related("provider_account")
        .only("pk", "to_number", "provider_account__provider")
    ):
        if sends.get(("sms", m.to_number[-7:])):
            has_history = m.provider_account.can(Capability.MESSAGES)
            (unreconciled if has_history else no_history).append(m.pk)
    if unreconciled:
        failures.append(f"{len(unreconciled)} unknown sends the provider took were not reconciled")
    our_calls = Call.objects.for_tenant(tenant).filter(idempotency_key__isnull=False)
    calls = dict(our_calls.values_list("state").annotate(n=Count("id")))
    for state in ("queued", "placing"):
        if calls.get(state):
            failures.append(f"{calls[state]} calls still {state}")
    lost_calls = [
        c.pk
        for c in our_calls.filter(state="unknown", remote_id="").only("pk", "to_number")
        if sends.get(("call", c.to_number[-7:]))
    ]
    if lost_calls:
        failures.append(f"{len(lost_calls)} unknown calls the provider placed were not reconciled")
    # One send the provider took is one row here: not our row plus a twin a sync or a webhook
    # created for the same message or call (recipients are unique per send).
    twins = {}
    for kind, model in (("sms", Message), ("call", Call)):
        rows = (
            model.objects.for_tenant(tenant)
            .filter(to_number__regex=r"^\+4670[23][0-9]{6}$")
            .values("to_number")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        twins[kind] = sorted(r["to_number"] for r in rows)
        if twins[kind]:
            failures.append(f"{len(twins[kind])} {kind} sends stored twice: {twins[kind][:5]}")

    expected, actual = recount(tenant), current(tenant)
    if expected != actual:
        diff = {k: (expected.get(k), actual.get(k)) for k in set(expected) | set(actual)}
        diff = {k: v for k, v in diff.items() if v[0] != v[1]}
        failures.append(f"rollups differ from a recount on {len(diff)} keys: {list(diff.items())[:5]}")
    dupes = {"messages": duplicates(Message), "calls": duplicates(Call)}
    if any(dupes.values()):
        failures.append(f"duplicate (provider_account, remote_id): {dupes}")

    # Bounded: the last third of the run stays within 1.5x (and 64 MB) of the first third's peak.
    third = max(1, len(memory) // 3)
    early, late = max(m for _, m in memory[:third]), max(m for _, m in memory[-third:])
    if late > max(early * 1.5, early + 64):
        failures.append(f"worker memory grew from {early} MB to {late} MB")
    return {
        "failures": failures,
        "message_statuses": statuses,
        "unknown_never_taken": statuses.get("unknown", 0) - len(unreconciled) - len(no_history),
        "unknown_without_history_to_reconcile": len(no_history),
        "unknown_calls_lost": len(lost_calls),
        "stored_twice": twins,
        "call_states": calls,
        "provider_sends": {
            "sms": sum(1 for k in sends if k[0] == "sms"),
            "call": sum(1 for k in sends if k[0] == "call"),
        },
        "rollup_keys": len(expected),
        "duplicates": dupes,
        "worker_rss_mb": {"first_third_peak": early, "last_third_peak": late, "samples": memory},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--worker-pid", type=int, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "soak-results.json")
    args = parser.parse_args()
    with httpx.Client(base_url=settings.SANDBOX_URL, timeout=30) as sandbox:
        tenant, accounts = setup(sandbox)
        log("initial sync (no faults yet)")
        log(f"initial sync: {sync_until_clean(accounts, rounds=3, timeout=120)}")
        numbers = sender_numbers(tenant, accounts)
        log(f"sending from {numbers}")
        for rule in FAULTS:
            sandbox.post("/_sandbox/faults", json=rule).raise_for_status()
        log(f"faults injected; traffic for {args.minutes} min")
        run = drive(tenant, accounts, numbers, args.minutes, args.worker_pid)
        log(f"traffic done: {run['tally']}")
        fired = {
            f"{f['kind']}{f['status'] if f['kind'] == 'error' else ''}": f["hits"]
            for f in sandbox.get("/_sandbox/faults").json()
        }
        sandbox.delete("/_sandbox/faults")
        left = settle(tenant, timeout=180)
        log(f"faults cleared; {left} sends still queued or in flight; final sync")
        final = sync_until_clean(accounts, rounds=5, timeout=180)
        log(f"final sync: {final}")
        if any(state != "synced" for state in final.values()):
            log("the final sync did not get through everywhere: unknown sends there stay unknown")
        settle(tenant, timeout=60)
        time.sleep(5)  # the last delivery reports
        result = check(tenant, sandbox, run["memory"])
        result.update(traffic=run["tally"], final_sync=final, minutes=args.minutes)
        if any(state != "synced" for state in final.values()):
            result["failures"].append(f"the final sync did not get through: {final}")
    result["faults_fired"] = fired
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "worker_rss_mb"}, indent=2, default=str))
    rss = result["worker_rss_mb"]
    log(f"worker RSS: {rss['first_third_peak']} -> {rss['last_third_peak']} MB")
    if result["failures"]:
        log("FAILED:\n  - " + "\n  - ".join(result["failures"]))
        sys.exit(1)
    log("all invariants hold")


if __name__ == "__main__":
    from accounts.rls import rls_bypass

    # The driver (a client and an auditor) builds and checks rows across tenants; the web
    # server and the worker it drives run with their own tenant settings.
    with rls_bypass("soak driver"):
        main()
