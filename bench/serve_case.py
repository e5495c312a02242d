"""`serve`: sending, delivery reports and caps under real concurrency, through the stack as
`make serve` runs it (see bench/load.py). Targets (issue: sends under real concurrency):
- 16 concurrent API clients: 0 responses >= 500, >= 500 messages/s accepted;
- the send workers hand >= 200 messages/s to the provider, each message exactly once;
- at a steady 50 messages/s, queue-to-provider p99 < 1 s;
- >= 1,000 delivery reports/s from 32 clients, none >= 500, all applied within 10 s;
- a cap of K under 16 concurrent clients lets exactly K through;
- rollups equal a recount; no deadlock, traceback or error in the stack's logs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.db.models import Count
from django.utils import timezone

from accounts.models import ApiKey, Membership, Role, Tenant, User
from billing.models import BillingSettings
from billing.rebuild import current, recount
from billing.usage import record_changes
from messaging.models import Message
from messaging.outbox import usage
from providers.models import ProviderAccount, SyncRun, WebhookEvent
from providers.sandbox_accounts import connect_sandbox_account, sandbox_registration
from providers.scheduling import due_accounts

from . import load

TARGETS = {
    "accepted_per_second": 500,
    "delivered_per_second": 200,
    "steady_p99_ms": 1000,
    "webhooks_per_second": 1000,
    "webhooks_applied_seconds": 10,
}
SENT = ("sent", "delivered", "failed")
FINAL = ("delivered", "failed")


def _tenant(label: str) -> tuple[Tenant, str, ProviderAccount]:
    slug = f"load-{label}-{load.unique_label()}"
    tenant = Tenant.objects.create(name=slug, slug=slug, timezone="Europe/Stockholm", default_currency="SEK")
    owner = User.objects.create_user(f"owner@{slug}.bench", "pw")
    Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    key = ApiKey.issue(tenant, "load", created_by=owner)[1]
    sandbox_url = f"http://127.0.0.1:{load.SANDBOX_PORT}"
    account = connect_sandbox_account(tenant, "46elks", sandbox_url, label=slug, seed=7, size=5)
    ProviderAccount.objects.filter(pk=account.pk).update(send_rate=1000.0, sync_enabled=False)
    return tenant, key, account


def _statuses(ids: list[int]) -> dict[str, int]:
    rows = Message.objects.filter(pk__in=ids).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


def _all_sent(ids: list[int]) -> bool:
    return not Message.objects.filter(pk__in=ids).exclude(status__in=SENT).exists()


def _settle(ids: list[int]) -> None:
    """Let a phase's delivery reports (the sandbox sends two per message, 1 s and 3 s after
    it) arrive and be applied, so the next phase is measured on its own."""
    load.wait_until(
        lambda: not Message.objects.filter(pk__in=ids).exclude(status__in=FINAL).exists(), 120, 0.5
    )
    time.sleep(2)


def _startup_syncs_done() -> bool:
    return (
        not due_accounts().exists()
        and not SyncRun.objects.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).exists()
    )


def _wait_for_startup_syncs() -> float | None:
    """`make serve` loads the demo tenants, and beat's first tick imports their accounts'
    history (due since the last run) with the billing snapshots that follow: up to a quarter
    of the cores for the first seconds. Wait for that to end, so the first burst measures
    the burst and not the stack's start-up."""
    waited = load.wait_until(_startup_syncs_done, 120, 0.5)
    time.sleep(2)
    return waited


def _ids(results: list[load.Result]) -> list[int]:
    import json

    return [json.loads(r.body)["id"] for r in results if r.status == 202]


def _ledger(stack: load.Stack, wanted: set[str]) -> list[dict]:
    entries = load.sandbox_json(stack, "GET", "/_sandbox/ledger?provider=46elks&endpoint=POST%20/a1/sms")
    out = []
    for entry in entries or []:
        to = _form_value(entry.get("body", ""), "to")
        if to in wanted and entry.get("status") == 200:
            out.append({"to": to, "at": entry["at"]})
    return out


def _form_value(body: str, name: str) -> str:
    from urllib.parse import parse_qs

    return (parse_qs(body).get(name) or [""])[0]


def _awaiting_reports(tenant: Tenant, account: ProviderAccount, count: int) -> list[int]:
    """`count` outbound messages the provider took and has not reported on yet, stored as
    the send path stores them (with their ledger entries, so rollups still equal a recount)."""
    label = load.unique_label()
    now = timezone.now()
    common = {
        "tenant": tenant, "provider_account": account, "kind": "sms", "direction": "outbound",
        "from_number": "Bench", "body": "Awaiting a report", "status": "sending", "parts": 1,
        "encoding": "gsm7", "created_at": now, "updated_at": now,
    }  # fmt: skip
    rows = [
        Message(**common, to_number=to, remote_id=f"hook-{label}-{i}")
        for i, to in enumerate(load.recipients(count, 5))
    ]
    Message.objects.bulk_create(rows, batch_size=1000)
    for row in rows:
        row.tenant = tenant
    record_changes(usage(row, +1) for row in rows)
    return [row.pk for row in rows]


def _burst_without_send_workers(
    stack: load.Stack, client: load.Client, account: ProviderAccount, api_key: str, count: int, clients: int
) -> dict[str, Any]:
    from config.celery import app

    numbers = load.recipients(count, 5)
    requests = [
        load.send_request(account.pk, to, f"alone-{i}-{load.unique_label()}", f"Alone {i}", api_key)
        for i, to in enumerate(numbers)
    ]
    cancelled = app.control.cancel_consumer("send", reply=True, timeout=5)
    if not cancelled:
        raise RuntimeError("no send worker answered cancel_consumer")
    try:
        results, wall = load.fire(client, requests, clients)
    finally:
        app.control.add_consumer("send", reply=True, timeout=5)
    ids = _ids(results)
    load.wait_until(lambda: _all_sent(ids), 300, 0.5)
    per_to = Counter(e["to"] for e in _ledger(stack, set(numbers)))
    _settle(ids)
    return {
        **load.summary(results, wall),
        "sent_exactly_once_after": len(per_to) == len(ids) and set(per_to.values()) == {1},
    }


def case_serve(burst: int, clients: int, steady_rate: float, steady_seconds: float, hooks: int,
               hook_clients: int, cap: int) -> dict[str, Any]:  # fmt: skip
    tenant, api_key, account = _tenant("send")
    capped, capped_key, capped_account = _tenant("cap")
    BillingSettings.objects.create(tenant=capped, monthly_message_cap=cap)
    log_path = Path(__file__).resolve().parent.parent / "var" / "bench-serve.log"
    result: dict[str, Any] = {"targets": TARGETS}
    with load.running_stack(log_path) as stack:
        client = load.Client(load.WEB_PORT)
        # Warm-up: every gunicorn worker and the send path once; the sandbox knows the account.
        warm = [load.send_request(account.pk, to, None, "warm-up", api_key) for to in load.recipients(40, 9)]
        warm_results, _ = load.fire(client, warm, 4)
        if load.wait_until(lambda: _all_sent(_ids(warm_results)), 90) is None:
            raise RuntimeError(f"warm-up sends did not go out: {_statuses(_ids(warm_results))}")
        # Enough credit for every send of the run (the sandbox seeds a random balance).
        for acc in (account, capped_account):
            credentials = sandbox_registration(acc)["credentials"]
            payload = {"provider": "46elks", "credentials": credentials, "balance": 10**12}
            topped = load.sandbox_json(stack, "POST", "/_sandbox/balance", payload)
            if not (isinstance(topped, dict) and "balance" in topped):
                raise RuntimeError(f"could not top up the sandbox account: {topped}")
        result["startup_syncs_waited_seconds"] = _wait_for_startup_syncs()
        log_mark = len(stack.lines)

        # 1. A burst of sends from `clients` concurrent clients, each with its own key.
        numbers = load.recipients(burst, 1)
        requests = [
            load.send_request(account.pk, to, f"burst-{i}-{load.unique_label()}", f"Load {i}", api_key)
            for i, to in enumerate(numbers)
        ]
        start = time.time()
        results, wall = load.fire(client, requests, clients)
        accepted = load.summary(results, wall)
        ids = _ids(results)
        drained = load.wait_until(lambda: _all_sent(ids), 300, 0.5)
        ledger = _ledger(stack, set(numbers))
        per_to = Counter(e["to"] for e in ledger)
        times = sorted(e["at"] for e in ledger)
        span = (times[-1] - times[0]) if len(times) > 1 else 0
        result["burst"] = {
            **accepted,
            "accepted_per_second": accepted["per_second"],
            "statuses_after": _statuses(ids),
            "provider_sends": len(ledger),
            "sent_exactly_once": len(per_to) == len(ids) and set(per_to.values()) == {1},
            "delivered_per_second": round(len(ledger) / span, 1) if span else 0,
            "first_accept_to_last_send_seconds": round(times[-1] - start, 2) if times else None,
            "drained": drained is not None,
        }

        _settle(ids)

        # 1a. The web tier alone: the same burst while the send queue has no consumer (an
        # operator's `celery control cancel_consumer send`), so no delivery and no delivery
        # report shares the cores with the API; the workers send the backlog afterwards.
        result["web_alone"] = _burst_without_send_workers(stack, client, account, api_key, burst, clients)

        # 1b. The send workers alone: one bulk send (one API call) of `burst` recipients, then
        # how fast the workers hand them to the provider while no API client competes.
        bulk_numbers = load.recipients(burst, 4)
        answer = client.request(*load.bulk_request(account.pk, bulk_numbers, "Bulk", api_key))
        if answer.status != 202:
            raise RuntimeError(f"the bulk send was refused: {answer.status} {answer.body[:300]!r}")
        bulk_ids = list(
            Message.objects.filter(bulk_send_id=json.loads(answer.body)["id"]).values_list("pk", flat=True)
        )
        load.wait_until(lambda: _all_sent(bulk_ids), 300, 0.5)
        ledger = _ledger(stack, set(bulk_numbers))
        per_to = Counter(e["to"] for e in ledger)
        times = sorted(e["at"] for e in ledger)
        span = (times[-1] - times[0]) if len(times) > 1 else 0
        result["workers"] = {
            "messages": len(bulk_ids),
            "bulk_request_ms": round(answer.seconds * 1000, 1),
            "provider_sends": len(ledger),
            "sent_exactly_once": len(per_to) == len(bulk_ids) and set(per_to.values()) == {1},
            "delivered_per_second": round(len(ledger) / span, 1) if span else 0,
        }

        _settle(bulk_ids)

        # 2. A steady 50 messages/s: how long from the client's POST to the provider.
        steady_numbers = load.recipients(int(steady_rate * steady_seconds), 2)
        steady = [
            load.send_request(account.pk, to, f"steady-{load.unique_label()}", "Steady", api_key)
            for to in steady_numbers
        ]
        timeline = load.paced(client, steady, steady_rate)
        steady_ids = _ids([r for _, r in timeline])
        load.wait_until(lambda: _all_sent(steady_ids), 120, 0.5)
        posted = {}
        for when, r in timeline:
            if r.status == 202:
                posted[json.loads(r.body)["to"]] = when
        lags = [
            (e["at"] - posted[e["to"]]) * 1000
            for e in _ledger(stack, set(steady_numbers))
            if e["to"] in posted
        ]
        result["steady"] = {
            "rate": steady_rate,
            "messages": len(steady),
            "accepted": len(steady_ids),
            "queue_to_provider_median_ms": round(load.percentile(lags, 0.5), 1),
            "queue_to_provider_p99_ms": round(load.percentile(lags, 0.99), 1),
        }

        _settle(steady_ids)  # their delivery reports arrive 1 s and 3 s later: not in phase 3

        # 3. Delivery reports from `hook_clients` clients, each one new: for messages the
        # provider took (rows as a send leaves them, `sending` with a remote id) whose reports
        # have not come yet, so every event is stored and changes its row when applied.
        hook_ids = _awaiting_reports(tenant, account, hooks)
        remote_ids = list(Message.objects.filter(pk__in=hook_ids).values_list("remote_id", flat=True))
        account.refresh_from_db()
        hook_requests = [load.dlr_request(account.webhook_token, rid) for rid in remote_ids]
        before = WebhookEvent.objects.filter(account=account).count()
        results, wall = load.fire(client, hook_requests, hook_clients)
        burst_end = time.monotonic()
        hooks_summary = load.summary(results, wall)

        def applied() -> bool:
            pending = WebhookEvent.objects.filter(account=account, status=WebhookEvent.Status.PENDING)
            return not pending.exists()

        load.wait_until(applied, 60, 0.2)
        applied_after = time.monotonic() - burst_end
        result["webhooks"] = {
            **hooks_summary,
            "events_stored": WebhookEvent.objects.filter(account=account).count() - before,
            "all_applied_seconds_after_burst": round(applied_after, 2),
            "messages_delivered": Message.objects.filter(pk__in=hook_ids, status="delivered").count(),
            "messages": len(hook_ids),
        }

        # 4. A cap under concurrency: exactly `cap` of 4 x cap concurrent sends pass.
        cap_numbers = load.recipients(cap * 4, 3)
        cap_requests = [
            load.send_request(capped_account.pk, to, f"cap-{load.unique_label()}", "Cap", capped_key)
            for to in cap_numbers
        ]
        results, wall = load.fire(client, cap_requests, clients)
        codes = Counter(r.status for r in results)
        stored = Message.objects.filter(tenant=capped, direction="outbound").count()  # not the demo's inbound
        result["cap"] = {
            "cap": cap,
            "attempts": len(cap_requests),
            "accepted": codes.get(202, 0),
            "refused_422": codes.get(422, 0),
            "stored": stored,
            "exact": codes.get(202, 0) == cap == stored,
        }
        load.wait_until(lambda: _all_sent(_ids(results)), 60, 0.5)
        time.sleep(6)  # one fold interval
        result["log_problems"] = stack.problems(log_mark)[:20]
    result["rollups_equal_recount"] = all(current(t) == recount(t) for t in (tenant, capped))
    result["met"] = {
        "accepted_per_second": result["burst"]["accepted_per_second"] >= TARGETS["accepted_per_second"]
        and result["burst"]["errors_5xx"] == 0,
        "delivered_per_second": result["workers"]["delivered_per_second"] >= TARGETS["delivered_per_second"]
        and result["workers"]["sent_exactly_once"]
        and result["burst"]["sent_exactly_once"],
        "steady_p99_ms": result["steady"]["queue_to_provider_p99_ms"] < TARGETS["steady_p99_ms"],
        "webhooks_per_second": result["webhooks"]["per_second"] >= TARGETS["webhooks_per_second"]
        and result["webhooks"]["errors_5xx"] == 0,
        "webhooks_applied_seconds": result["webhooks"]["all_applied_seconds_after_burst"]
        <= TARGETS["webhooks_applied_seconds"],
        "cap_exact": result["cap"]["exact"],
        "rollups_equal_recount": result["rollups_equal_recount"],
        "clean_logs": not result["log_problems"],
    }
    result["rows"] = _rows(result)
    return result


def _rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The results as {"name", "value", "unit", "target", "met"} rows (results.json, README)."""
    b, wk, s, w, cap, m = r["burst"], r["workers"], r["steady"], r["webhooks"], r["cap"], r["met"]
    wa = r["web_alone"]
    burst = f"serve: {b['requests']:,} sends from 16 concurrent API clients"
    hooks = f"serve: {w['requests']:,} delivery reports from 32 clients"
    table = [
        (f"{burst}, accepted", b["accepted_per_second"], "msg/s", ">= 500/s", m["accepted_per_second"]),
        (f"{burst}, median latency (p95 {b['p95_ms']} ms)", b["median_ms"], "ms", None, None),
        (f"{burst}, responses >= 500", b["errors_5xx"], "responses", "0", b["errors_5xx"] == 0),
        (
            f"serve: the web tier alone, {wa['requests']:,} sends from 16 clients while the send queue "
            f"has no consumer (p95 {wa['p95_ms']} ms, {wa['errors_5xx']} >= 500; sent once after: "
            f"{wa['sent_exactly_once_after']})",
            wa["per_second"], "msg/s", None, None,
        ),
        (
            f"serve: send workers, a bulk of {wk['messages']:,} to the provider (each once: "
            f"{wk['sent_exactly_once']})",
            wk["delivered_per_second"], "msg/s", ">= 200/s", m["delivered_per_second"],
        ),
        (
            f"serve: send workers during the 16-client burst (each once: {b['sent_exactly_once']})",
            b["delivered_per_second"], "msg/s", None, None,
        ),
        (
            f"serve: steady {s['rate']}/s, POST to provider p99 "
            f"(median {s['queue_to_provider_median_ms']} ms)",
            s["queue_to_provider_p99_ms"], "ms", "< 1000 ms", m["steady_p99_ms"],
        ),
        (
            f"{hooks} (p95 {w['p95_ms']} ms, {w['errors_5xx']} >= 500)",
            w["per_second"], "req/s", ">= 1000/s", m["webhooks_per_second"],
        ),
        (
            f"{hooks}: all applied ({w['messages_delivered']} of {w['messages']} now delivered), after",
            w["all_applied_seconds_after_burst"], "s", "<= 10 s", m["webhooks_applied_seconds"],
        ),
        (
            f"serve: cap of {cap['cap']}, {cap['attempts']} concurrent sends, accepted",
            cap["accepted"], "messages", f"exactly {cap['cap']}", m["cap_exact"],
        ),
        ("serve: rollups equal a recount", int(r["rollups_equal_recount"]), "bool", "1",
         m["rollups_equal_recount"]),
        ("serve: deadlocks, tracebacks, errors in the logs", len(r["log_problems"]), "lines", "0",
         m["clean_logs"]),
    ]  # fmt: skip
    return [_row(*row) for row in table]


def _row(name: str, value: Any, unit: str, target: str | None, met: bool | None) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "target": target, "met": met}
