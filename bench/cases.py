"""The benchmarks of `make bench`. Each case runs in its own process (bench/run.py starts
one per case), so a memory peak belongs to one case, and returns a dict of results.

Everything real except the providers: Postgres, Redis (broker and cache), the sync engine,
the importers, the views; the in-process 46elks sandbox stands in for the remote API.
"""

from __future__ import annotations

import resource
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, connections, transaction
from django.test import Client

from accounts.models import ApiKey, Membership, Role, Tenant, User
from accounts.rls import tenant_context
from accounts.rls_setup import as_owner
from messaging.models import Message
from providers import connect
from providers.models import ProviderAccount, SyncRun
from sandbox import Sandbox

from .serve_case import case_serve

Result = dict[str, Any]

__all__ = ["case_serve"]  # run.py looks cases up by name here


# -- measuring ------------------------------------------------------------------------------------
def stats(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2), "n": len(ordered)}


def timed(fn: Callable[[], Any], reps: int, warmup: int = 1) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return stats(samples)


def maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def analyze() -> None:
    with as_owner() as conn, conn.cursor() as cursor:  # only the owner may (the app role has RLS)
        cursor.execute("ANALYZE messaging_message")


# -- fixtures -------------------------------------------------------------------------------------
def make_tenant(label: str) -> tuple[Tenant, User]:
    slug = f"{label}-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(name=slug, slug=slug, timezone="Europe/Stockholm", default_currency="SEK")
    owner = User.objects.create_user(f"owner@{slug}.bench", "pw")
    Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    return tenant, owner


def in_process_sandbox() -> Sandbox:
    sandbox = Sandbox()
    sandbox.sleep = lambda seconds: None
    connect.transport_factory = lambda account: sandbox.transport()
    return sandbox


def elks_account(sandbox: Sandbox, tenant: Tenant, *, size: int, seed: int = 1, **fields) -> ProviderAccount:
    from providers.sandbox_accounts import connect_sandbox_account, sandbox_registration

    label = f"{tenant.slug}-46elks"
    account = connect_sandbox_account(
        tenant, "46elks", "http://sandbox", label=label, seed=seed, size=size, **fields
    )
    reg = sandbox_registration(account)
    sandbox.add_account(
        "46elks",
        reg["credentials"],
        remote_id=reg["remote_id"],
        seed=seed,
        size=size,
        webhook_base=reg["webhook_base"],
        webhook_secret=reg["webhook_secret"],
    )
    return account


def sync_messages(account: ProviderAccount) -> SyncRun:
    from providers.sync import run_sync

    run = SyncRun.objects.create(
        tenant_id=account.tenant_id, account=account, trigger=SyncRun.Trigger.COMMAND
    )
    run_sync(run, resources=["messages"], enqueue_subaccounts=False)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise RuntimeError(f"sync failed: {run.error}")
    return run


def db_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


# -- 1. sync import throughput and memory ------------------------------------------------------
def case_sync(size: int, reps: int) -> Result:
    """Import a seeded history through the real sync engine; then rerun it from scratch."""
    from billing.rebuild import current

    sandbox = in_process_sandbox()
    baseline_rss = maxrss_mb()
    imports, reruns = [], []
    for rep in range(reps):
        tenant, _ = make_tenant(f"sync{size}")
        account = elks_account(sandbox, tenant, size=size, seed=rep + 1)
        start = time.perf_counter()
        run = sync_messages(account)
        seconds = time.perf_counter() - start
        state = run.resources["messages"]
        imports.append({"seconds": seconds, "messages": state["created"], "pages": state["pages"]})

        # Rerun over the imported history: the cursor is forgotten, every page comes again.
        rollups = current(tenant)
        ProviderAccount.objects.filter(pk=account.pk).update(sync_cursors={})
        account.refresh_from_db()
        since = db_now()
        start = time.perf_counter()
        run = sync_messages(account)
        rerun_seconds = time.perf_counter() - start
        reruns.append(
            {
                "seconds": rerun_seconds,
                "created": run.resources["messages"]["created"],
                "rows_changed": Message.objects.for_tenant(tenant).filter(updated_at__gte=since).count(),
                "rollups_unchanged": current(tenant) == rollups,
            }
        )
    rates = [i["messages"] / i["seconds"] for i in imports]
    return {
        "size": size,
        "messages": imports[0]["messages"],
        "pages": imports[0]["pages"],
        "import_seconds": stats([i["seconds"] * 1000 for i in imports]),
        "messages_per_second_median": round(statistics.median(rates)),
        "rss_baseline_mb": baseline_rss,
        "rss_peak_mb": maxrss_mb(),
        "rss_growth_mb": round(maxrss_mb() - baseline_rss, 1),
        "rerun_ms": stats([r["seconds"] * 1000 for r in reruns]),
        "rerun_rows_changed": max(r["rows_changed"] for r in reruns),
        "rerun_created": max(r["created"] for r in reruns),
        "rerun_rollups_unchanged": all(r["rollups_unchanged"] for r in reruns),
    }


# -- 2. one page upsert: set-based vs per-row update_or_create -----------------------------------
def remote_page(start: int, n: int, *, status: str = "delivered") -> list:
    from providers.adapters.records import Direction, MessageKind, MessageStatus, RemoteMessage

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        RemoteMessage(
            remote_id=f"bench-{i}",
            kind=MessageKind.SMS,
            direction=Direction.OUTBOUND if i % 3 else Direction.INBOUND,
            from_number="+46766861234",
            to_number=f"+4670{i % 10_000_000:07d}",
            body=f"Benchmark message {i}",
            status=MessageStatus(status) if i % 3 else MessageStatus.RECEIVED,
            raw_status=status,
            created_at=t0 + timedelta(seconds=i),
            cost=Decimal("0.35"),
            currency="SEK",
            parts=1,
            encoding="gsm7",
            raw={"id": f"bench-{i}", "status": status},
        )
        for i in range(start, start + n)
    ]


def naive_upsert(account: ProviderAccount, records: list) -> None:
    """What a reviewer would write first: one query (or two) per row."""
    with transaction.atomic():
        for r in records:
            Message.objects.update_or_create(
                provider_account=account,
                remote_id=r.remote_id,
                defaults={
                    "tenant_id": account.tenant_id,
                    "kind": str(r.kind),
                    "direction": str(r.direction),
                    "from_number": r.from_number,
                    "to_number": r.to_number,
                    "body": r.body,
                    "status": str(r.status),
                    "raw_status": r.raw_status,
                    "created_at": r.created_at,
                    "cost": r.cost,
                    "currency": r.currency,
                    "parts": r.parts,
                    "encoding": r.encoding,
                    "raw": r.raw,
                },
            )


def case_upsert(reps: int, background: int) -> Result:
    from messaging.importers import upsert_messages

    tenant, _ = make_tenant("upsert")
    set_account = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="set-based")
    naive_account = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="naive")
    # A table of realistic size around the measured pages, for both.
    for account in (set_account, naive_account):
        for start in range(0, background, 1000):
            upsert_messages(account, remote_page(10_000_000 + start, 1000))
    analyze()
    counter = {"set": 0, "naive": 0}

    def fresh(kind: str) -> list:
        counter[kind] += 100
        return remote_page(counter[kind], 100)

    def atomic_upsert(records) -> None:
        with transaction.atomic():
            upsert_messages(set_account, records)

    new_set = timed(lambda: atomic_upsert(fresh("set")), reps)
    new_naive = timed(lambda: naive_upsert(naive_account, fresh("naive")), reps)
    # The same 100 records again, with a status change on every other run.
    same = remote_page(1_000_000, 100)
    moved = remote_page(1_000_000, 100, status="failed")
    flip = {"i": 0}

    def page_again() -> list:
        flip["i"] += 1
        return moved if flip["i"] % 2 else same

    atomic_upsert(same)
    naive_upsert(naive_account, same)
    again_set = timed(lambda: atomic_upsert(page_again()), reps)
    flip["i"] = 0
    again_naive = timed(lambda: naive_upsert(naive_account, page_again()), reps)
    return {
        "background_rows": background * 2,
        "new_page": {
            "set_based": new_set,
            "naive": new_naive,
            "ratio": round(new_naive["median_ms"] / new_set["median_ms"], 1),
        },
        "existing_page": {
            "set_based": again_set,
            "naive": again_naive,
            "ratio": round(again_naive["median_ms"] / again_set["median_ms"], 1),
        },
        "note": "set-based also maintains the rollups and reconciles unknown sends; naive does neither",
    }


# -- 3. lists at 1,000,000 messages ------------------------------------------------------------
def seed_messages(tenant: Tenant, account: ProviderAccount, n: int, *, vacuum: bool = True) -> float:
    """n messages in one INSERT … SELECT generate_series: one row per second back from now,
    a mix of directions, statuses and counterparts."""
    named = {
        "tenant_id",
        "provider_account_id",
        "kind",
        "direction",
        "from_number",
        "to_number",
        "body",
        "status",
        "raw_status",
        "error",
        "parts",
        "encoding",
        "cost",
        "currency",
        "created_at",
        "sent_at",
        "updated_at",
        "remote_id",
        "raw",
    }
    extra_cols, extra_vals = [], []
    for field in Message._meta.concrete_fields:
        if field.primary_key or field.column in named or (field.null and not field.has_default()):
            continue
        extra_cols.append(field.column)
        extra_vals.append(field.get_db_prep_save(field.get_default(), connection))
    cols = ", ".join([*sorted(named), *extra_cols])
    placeholders = "".join(f", %(x{i})s" for i in range(len(extra_vals)))
    exprs = {
        "tenant_id": "%(tenant)s",
        "provider_account_id": "%(account)s",
        "kind": "CASE WHEN mod(g, 20) = 0 THEN 'mms' ELSE 'sms' END",
        "direction": "CASE WHEN mod(g, 3) = 0 THEN 'inbound' ELSE 'outbound' END",
        "from_number": "CASE WHEN mod(g, 3) = 0 THEN '+4670' || lpad((mod(g, 50000))::text, 7, '0') "
        "ELSE '+46766861234' END",
        "to_number": "CASE WHEN mod(g, 3) = 0 THEN '+46766861234' "
        "ELSE '+4670' || lpad((mod(g, 50000))::text, 7, '0') END",
        "body": "'Benchmark message number ' || g",
        "status": "CASE WHEN mod(g, 3) = 0 THEN 'received' WHEN mod(g, 17) = 0 THEN 'failed' "
        "WHEN mod(g, 5) = 0 THEN 'sent' ELSE 'delivered' END",
        "raw_status": "'delivered'",
        "error": "''",
        "parts": "1",
        "encoding": "'gsm7'",
        "cost": "0.35",
        "currency": "'SEK'",
        "created_at": "now() - make_interval(secs => g)",
        "sent_at": "now() - make_interval(secs => g)",
        "updated_at": "now()",
        "remote_id": "'seed-' || g",
        "raw": "'{}'::jsonb",
    }
    select = ", ".join(exprs[c] for c in sorted(named))
    sql = (
        f"INSERT INTO {Message._meta.db_table} ({cols}) "  # noqa: S608 - our table, our columns
        f"SELECT {select}{placeholders} FROM generate_series(1, %(n)s) AS g"
    )
    params: dict[str, Any] = {"tenant": tenant.pk, "account": account.pk, "n": n}
    params.update({f"x{i}": value for i, value in enumerate(extra_vals)})
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    if vacuum:
        with as_owner() as conn, conn.cursor() as cursor:  # only the owner may (the app role has RLS)
            cursor.execute(f"VACUUM (ANALYZE) {Message._meta.db_table}")
    return time.perf_counter() - start


def case_lists(n: int, reps: int, depth: int) -> Result:
    from rest_framework.pagination import Cursor

    from core.api_pagination import KeysetPagination

    tenant, owner = make_tenant("lists")
    account = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="seeded", currency="SEK")
    seed_seconds = seed_messages(tenant, account, n)
    raw_key = ApiKey.issue(tenant, "bench", created_by=owner)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    def get(client: Client, url: str, params: dict | None = None) -> Any:
        response = client.get(url, params or {})
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} {params}: {response.status_code}")
        return response

    results: Result = {"rows": n, "seed_seconds": round(seed_seconds, 1), "depth": depth}
    results["api_first_page"] = timed(lambda: get(api, "/api/v1/messages/"), reps)

    # A cursor `depth` rows down, built as the paginator builds its `next` links.
    row = Message.objects.for_tenant(tenant).order_by("-created_at", "-id").values("created_at")[depth]
    paginator = KeysetPagination()
    paginator.base_url = "http://testserver/api/v1/messages/"
    deep_url = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=str(row["created_at"])))
    first = get(api, deep_url).json()["results"]
    results["api_deep_page_keyset"] = timed(lambda: get(api, deep_url), reps)

    # The OFFSET query a page-number paginator runs at the same depth vs the keyset one, as the
    # ORM compiles them (same columns, same order), timed at the database: the ORM's own
    # per-row cost is the same for both and only blurs the comparison on a busy machine.
    ordered = Message.objects.for_tenant(tenant).order_by("-created_at", "-id")
    # The cursor points just past the row at `depth`.
    offset_sql = ordered[depth + 1 : depth + 51].query.sql_with_params()
    keyset_sql = ordered.filter(created_at__lt=row["created_at"])[:50].query.sql_with_params()

    def run_sql(statement: tuple) -> list:
        with connection.cursor() as cursor:
            cursor.execute(*statement)
            return cursor.fetchall()

    assert [r[0] for r in run_sql(keyset_sql)][:5] == [m["id"] for m in first][:5]
    assert run_sql(keyset_sql) == run_sql(offset_sql)
    offset = timed(lambda: run_sql(offset_sql), reps)
    keyset = timed(lambda: run_sql(keyset_sql), reps)
    results["query_deep_page"] = {
        "keyset": keyset,
        "offset": offset,
        "ratio": round(offset["median_ms"] / keyset["median_ms"], 1),
    }
    # A window in the middle of the seeded span (one row per second back from now).
    now = datetime.now(UTC)
    filters = {
        "status": "failed",
        "direction": "outbound",
        "created_after": (now - timedelta(seconds=n * 0.6)).isoformat(),
        "created_before": (now - timedelta(seconds=n * 0.5)).isoformat(),
    }
    results["api_filtered"] = timed(lambda: get(api, "/api/v1/messages/", filters), reps)
    results["api_filtered_count"] = len(get(api, "/api/v1/messages/", filters).json()["results"])

    staff = User.objects.create_user(f"staff@{tenant.slug}.bench", "pw", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    results["admin_changelist"] = timed(lambda: get(admin, "/admin/messaging/message/"), reps)
    results["admin_changelist_filtered"] = timed(
        lambda: get(admin, "/admin/messaging/message/", {"status__exact": "failed"}), reps
    )
    dashboard = Client()
    dashboard.force_login(owner)
    results["dashboard_messages"] = timed(lambda: get(dashboard, f"/t/{tenant.slug}/messages/"), reps)
    return results


# -- 4. sending and limits -----------------------------------------------------------------------
def case_send(n: int, threads: int, cap: int) -> Result:
    from billing.limits import LimitExceeded, reserve
    from billing.models import BillingSettings
    from messaging import tasks
    from messaging.services import queue_message
    from numbers.models import PhoneNumber

    sandbox = in_process_sandbox()
    tenant, _ = make_tenant("send")
    account = elks_account(sandbox, tenant, size=5, send_rate=100_000.0)
    PhoneNumber.objects.create(
        tenant=tenant,
        number="+46766861234",
        provider_account=account,
        remote_id=f"n-{account.pk}",
        capabilities=["sms", "mms", "voice"],
    )
    sandbox.ledger.clear()
    start = time.perf_counter()
    ids = []
    for i in range(n):
        message = queue_message(
            tenant,
            account=account,
            from_number="+46766861234",
            to=f"+4670{1000000 + i}",
            body=f"Hello {i}",
            idempotency_key=f"bench-{i}",
        )
        ids.append(message.pk)
    queued_seconds = time.perf_counter() - start
    for message_id in ids:
        tasks.send_message(message_id)  # the task body, inline
    total = time.perf_counter() - start
    sends = sandbox.ledger.count(provider="46elks", endpoint="POST /a1/sms")

    # Limits: `threads` threads reserving against one monthly cap, in a tenant of its own (the
    # sends above count in their tenant's month: a cap below them would refuse everything).
    tenant, _ = make_tenant("limits")
    BillingSettings.objects.create(tenant=tenant, monthly_message_cap=cap)
    passes, refusals, lock = [0], [0], threading.Lock()
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait()
        try:
            with tenant_context(tenant):  # each thread is a request of this tenant
                for _ in range((cap * 2) // threads + 1):
                    try:
                        reserve(tenant, subaccount=None, cost=Decimal("0.35"), currency="SEK")
                        outcome = passes
                    except LimitExceeded:
                        outcome = refusals
                    with lock:
                        outcome[0] += 1
        finally:
            connections.close_all()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    limit_seconds = time.perf_counter() - start
    return {
        "messages": n,
        "queue_per_second": round(n / queued_seconds),
        "queue_and_send_per_second": round(n / total),
        "statuses": _count_by(ids),
        "provider_sends": sends,
        "limits": {
            "threads": threads,
            "cap": cap,
            "attempts": passes[0] + refusals[0],
            "passes": passes[0],
            "passes_equal_cap": passes[0] == cap,
            "reservations_per_second": round((passes[0] + refusals[0]) / limit_seconds),
        },
    }


def _count_by(ids: list[int]) -> dict[str, int]:
    from django.db.models import Count

    rows = Message.objects.filter(pk__in=ids).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


# -- 5. webhook ingest ---------------------------------------------------------------------------
def case_webhooks(n: int) -> Result:
    from urllib.parse import urlencode

    from providers.models import WebhookEvent

    sandbox = in_process_sandbox()
    tenant, _ = make_tenant("hooks")
    account = elks_account(sandbox, tenant, size=5)
    path = account.webhook_url("dlr").replace("http://testserver", "")
    client = Client()
    bodies = [
        urlencode({"id": f"s{i:08x}", "status": "delivered", "delivered": "2026-01-02T10:00:05.000000"})
        for i in range(n + 20)
    ]
    for body in bodies[:20]:  # warm-up
        client.post(path, body, content_type="application/x-www-form-urlencoded")
    samples = []
    start = time.perf_counter()
    for body in bodies[20:]:
        t = time.perf_counter()
        response = client.post(path, body, content_type="application/x-www-form-urlencoded")
        samples.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}")
    seconds = time.perf_counter() - start
    return {
        "requests": n,
        "requests_per_second": round(n / seconds),
        "latency": stats(samples),
        "stored": WebhookEvent.objects.for_tenant(tenant).count() - 20,  # less the warm-up
    }


# -- 6. the sandbox at a million messages ----------------------------------------------------------
SANDBOX_CREDENTIALS = {
    "46elks": {"username": "big", "password": "pw"},
    "callr": {"api_key": "big"},
    "sipcentric": {"username": "big", "password": "pw"},
}


def case_sandbox_pages(size: int, reps: int) -> Result:
    """The first three history pages of a sandbox account seeded with `size` messages, per
    provider: lazily generated, so it should not depend on the size (was a timed test)."""
    from providers.adapters import Connection, build_adapter

    results: Result = {"messages": size}
    for provider, credentials in SANDBOX_CREDENTIALS.items():
        sandbox = Sandbox()
        sandbox.add_account(provider, credentials, seed=5, size=size)
        connection = Connection(base_url=sandbox.base_url(provider), credentials=credentials)
        adapter = build_adapter(provider, connection, transport=sandbox.transport())

        def three_pages(adapter=adapter) -> None:
            cursor = None
            for _ in range(3):
                cursor = adapter.list_messages(cursor).cursor

        results[provider] = timed(three_pages, reps)
    # jambonz keeps calls, not messages: the first three pages of its call history (seeded
    # with a quarter of `size` calls).
    sid = "big-account-sid"
    credentials = {"api_key": "big", "account_sid": sid}
    sandbox = Sandbox()
    sandbox.add_account("jambonz", credentials, remote_id=sid, seed=5, size=size * 4)
    jambonz = build_adapter(
        "jambonz",
        Connection(base_url=sandbox.base_url("jambonz"), credentials=credentials, remote_account_id=sid),
        transport=sandbox.transport(),
    )

    def three_call_pages() -> None:
        cursor = None
        for _ in range(3):
            cursor = jambonz.list_calls(cursor).cursor

    results["jambonz"] = timed(three_call_pages, reps)
    return results
