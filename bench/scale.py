"""History sync and reads at scale (issue 11), for `make bench`. Each case returns, besides
its details, `rows`: [{"name", "value", "unit", "target", "met"}] (met is None for a figure
printed without a target).

- `sync_http`: a sandbox *server* process (bench.sandbox_proc) holds each account; the sync
  runs in a subprocess of its own (`python -m bench.sync_worker`), through the real
  engine (providers.sync.run_sync, prefetching adapter over HTTP at the provider's page size,
  the importers), as a Celery task would, in the tenant's RLS context. Measured: rows/s end
  to end, the worker's peak RSS (getrusage) at each size, and a rerun over the unchanged
  history (cursors forgotten) against the first import.
- `write_path`: the importer alone on pre-parsed pages (one transaction per page of 100, as
  the sync commits them) against a plain COPY of the same rows into the same table in the
  same run, and against per-row ORM `save()` on a sample.
- `reads_scale`: N messages over 20 tenants (the largest 1M, one of 10,000), seeded set-based
  (INSERT … SELECT generate_series, the secondary indexes dropped and rebuilt around it), then
  the API first page, a deep keyset page, a filtered page, the dashboard list and the admin
  changelist, p95 at the largest tenant against the same request at 10,000 rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from django.db import connection, transaction
from django.test import Client

from accounts.models import ApiKey, User
from accounts.rls_setup import as_owner
from messaging.models import Message
from providers.models import ProviderAccount, SyncRun

from .cases import Result, make_tenant, stats, timed

ROOT = Path(__file__).resolve().parent.parent


def row(name: str, value: float, unit: str, target: str = "", met: bool | None = None) -> dict:
    return {"name": name, "value": value, "unit": unit, "target": target, "met": met}


# -- the sandbox server and the sync worker processes ------------------------------------------
class SandboxProcess:
    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sandbox_proc"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"the sandbox server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        # The sync workers reach it as the sandbox (netguard lets SANDBOX_URL through).
        os.environ["SANDBOX_URL"] = self.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def register(self, account: ProviderAccount) -> None:
        from providers.sandbox_accounts import sandbox_registration

        response = httpx.post(f"{self.url}/_sandbox/accounts", json=sandbox_registration(account), timeout=30)
        response.raise_for_status()


def run_worker(account: ProviderAccount, resources: list[str]) -> dict:
    """A fresh process runs one SyncRun of `account` to the end; returns what it measured."""
    run = SyncRun.objects.create(
        tenant_id=account.tenant_id, account=account, trigger=SyncRun.Trigger.COMMAND
    )
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.sync_worker", str(run.pk), ",".join(resources)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"sync worker failed ({done.returncode}): {done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["wall_seconds"] = wall
    return report


# -- 1. sync over HTTP at scale -----------------------------------------------------------------
def elks_size(messages: int) -> int:
    """The 46elks sandbox seeds `size` SMS, size/10 MMS and size/4 calls."""
    return messages * 10 // 11


def case_sync_http(plan: dict[str, list[int]], rerun: bool = True) -> Result:
    """`plan`: provider -> history sizes (messages) to sync, smallest first."""
    from providers.sandbox_accounts import connect_sandbox_account

    from .cases import db_now

    resources = ["messages", "calls"]
    runs = []
    rows: list[dict] = []
    with SandboxProcess() as sandbox:
        for provider, sizes in plan.items():
            for messages in sizes:
                tenant, _ = make_tenant(f"scale{messages}")
                size = elks_size(messages) if provider == "46elks" else messages
                label = f"{tenant.slug}-{provider}"
                account = connect_sandbox_account(
                    tenant, provider, sandbox.url, label=label, seed=11, size=size
                )
                sandbox.register(account)
                first = run_worker(account, resources)
                total = sum(first["created"].values())
                entry: dict[str, Any] = {
                    "provider": provider,
                    "messages": first["created"].get("messages", 0),
                    "calls": first["created"].get("calls", 0),
                    "pages": first["pages"],
                    "seconds": round(first["seconds"], 1),
                    "rows_per_second": round(total / first["seconds"]),
                    "rss_peak_mb": first["rss_peak_mb"],
                }
                if rerun:
                    ProviderAccount.objects.filter(pk=account.pk).update(sync_cursors={})
                    since = db_now()
                    again = run_worker(account, resources)
                    entry.update(
                        rerun_seconds=round(again["seconds"], 1),
                        rerun_speedup=round(first["seconds"] / again["seconds"], 1),
                        rerun_created=sum(again["created"].values()),
                        rerun_rows_changed=Message.objects.for_tenant(tenant)
                        .filter(updated_at__gte=since)
                        .count(),
                        rerun_rss_peak_mb=again["rss_peak_mb"],
                    )
                runs.append(entry)
                what = f"{provider}, {entry['messages']:,} messages + {entry['calls']:,} calls"
                rows.append(
                    row(
                        f"Sync over HTTP ({what})",
                        entry["rows_per_second"],
                        "rows/s",
                        ">= 10000",
                        entry["rows_per_second"] >= 10_000,
                    )
                )
                rows.append(
                    row(
                        f"Sync worker peak RSS ({what})",
                        entry["rss_peak_mb"],
                        "MB",
                        "< 300",
                        entry["rss_peak_mb"] < 300,
                    )
                )
                if rerun:
                    rows.append(
                        row(
                            f"Rerun over unchanged history ({what}): first import / rerun time",
                            entry["rerun_speedup"],
                            "x",
                            ">= 3x (and 0 rows changed)",
                            entry["rerun_speedup"] >= 3 and entry["rerun_rows_changed"] == 0,
                        )
                    )
            mine = [r for r in runs if r["provider"] == provider]
            if len(mine) > 1:
                small, large = mine[0], mine[-1]
                growth = round(large["rss_peak_mb"] - small["rss_peak_mb"], 1)
                rows.append(
                    row(
                        f"Sync worker peak RSS growth, {provider}, {small['messages']:,} -> "
                        f"{large['messages']:,} messages",
                        growth,
                        "MB",
                        "flat (<= 10% of the smaller)",
                        growth <= 0.1 * small["rss_peak_mb"],
                    )
                )
    return {"runs": runs, "rows": rows}


# -- 2. the database write path against COPY and save() ---------------------------------------
def records(n: int, prefix: str) -> list:
    from providers.adapters.records import Direction, MessageKind, MessageStatus, RemoteMessage

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        RemoteMessage(
            remote_id=f"{prefix}{i}",
            kind=MessageKind.SMS,
            direction=Direction.OUTBOUND if i % 3 else Direction.INBOUND,
            from_number="+46766861234" if i % 3 else f"+4670{i % 10_000_000:07d}",
            to_number=f"+4670{i % 10_000_000:07d}" if i % 3 else "+46766861234",
            body=f"Benchmark message number {i}, with a little more text than a hello.",
            status=MessageStatus.DELIVERED if i % 3 else MessageStatus.RECEIVED,
            raw_status="delivered" if i % 3 else "",
            created_at=t0 + timedelta(seconds=i),
            delivered_at=t0 + timedelta(seconds=i + 3) if i % 3 else None,
            cost=Decimal("0.35"),
            currency="SEK",
            parts=1,
            encoding="gsm7",
            raw={"id": f"{prefix}{i}", "status": "delivered", "to": "+46700000000", "cost": 3500},
        )
        for i in range(n)
    ]


COPY_COLUMNS = (
    "tenant_id, provider_account_id, kind, direction, from_number, to_number, body, status, raw_status, "
    "error, parts, encoding, cost, currency, cost_estimated, created_at, sent_at, delivered_at, updated_at, "
    "remote_id, raw"
)


def plain_copy(account: ProviderAccount, page: list) -> None:
    """The same rows (and columns, the others at their model defaults) with one plain COPY."""
    from messaging.importers import _other_columns

    others, defaults = _other_columns(Message, {c.strip() for c in COPY_COLUMNS.split(",")})
    statement = f"COPY {Message._meta.db_table} ({COPY_COLUMNS}{others}) FROM STDIN"
    now = datetime.now(UTC)
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(statement) as copy:
        for r in page:
            copy.write_row(
                (
                    account.tenant_id,
                    account.pk,
                    str(r.kind),
                    str(r.direction),
                    r.from_number,
                    r.to_number,
                    r.body,
                    str(r.status),
                    r.raw_status,
                    r.error,
                    r.parts,
                    r.encoding,
                    r.cost,
                    r.currency,
                    False,
                    r.created_at,
                    r.sent_at,
                    r.delivered_at,
                    now,
                    r.remote_id,
                    json.dumps(r.raw),
                    *defaults,
                )
            )


def case_write_path(n: int, page_size: int, save_sample: int) -> Result:
    from messaging.importers import upsert_messages

    tenant, _ = make_tenant("write")
    ours = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="importer")
    copied = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="copy")
    saved = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="save")
    data = records(n, "w")
    pages = [data[i : i + page_size] for i in range(0, n, page_size)]
    # The importer as the sync engine runs it (app role, RLS on): each page in a savepoint,
    # COMMIT_PAGES pages per transaction.
    from providers.sync import COMMIT_PAGES

    def write_all() -> float:
        start = time.perf_counter()
        for first in range(0, len(pages), COMMIT_PAGES):
            with transaction.atomic():
                for page in pages[first : first + COMMIT_PAGES]:
                    with transaction.atomic():
                        upsert_messages(ours, page)
        return time.perf_counter() - start

    importer_s = write_all()
    rerun_s = write_all()  # the same rows again: a rerun over unchanged history
    # Plain COPY of the same pages into the same table (the schema owner: Postgres refuses
    # COPY FROM under row-level security), a transaction per page; then all rows at once.
    one_copy_account = ProviderAccount.objects.create(tenant=tenant, provider="46elks", name="one copy")
    with as_owner():
        start = time.perf_counter()
        for page in pages:
            plain_copy(copied, page)
        copy_s = time.perf_counter() - start
        start = time.perf_counter()
        plain_copy(one_copy_account, data)
        one_copy_s = time.perf_counter() - start
    # Per-row ORM save() on a sample (autocommit, one INSERT per row), scaled per row.
    sample = records(save_sample, "s")
    start = time.perf_counter()
    for r in sample:
        Message(
            tenant=tenant,
            provider_account=saved,
            kind=str(r.kind),
            direction=str(r.direction),
            from_number=r.from_number,
            to_number=r.to_number,
            body=r.body,
            status=str(r.status),
            raw_status=r.raw_status,
            parts=r.parts,
            encoding=r.encoding,
            cost=r.cost,
            currency=r.currency,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            remote_id=r.remote_id,
            raw=r.raw,
        ).save()
    save_per_row = (time.perf_counter() - start) / save_sample
    importer_per_row = importer_s / n
    ratio_pages = round(importer_s / copy_s, 2)
    ratio_one = round(importer_s / one_copy_s, 2)
    save_ratio = round(save_per_row / importer_per_row, 1)
    rerun_ratio = round(importer_s / rerun_s, 2)
    return {
        "rows_written": n,
        "page_size": page_size,
        "importer_seconds": round(importer_s, 2),
        "importer_rows_per_second": round(n / importer_s),
        "rerun_seconds": round(rerun_s, 2),
        "copy_per_page_seconds": round(copy_s, 2),
        "copy_all_at_once_seconds": round(one_copy_s, 2),
        "save_sample": save_sample,
        "save_rows_per_second": round(1 / save_per_row),
        "rows": [
            row(
                f"DB write path ({n:,} rows, pages of {page_size}) vs plain COPY of the same pages",
                ratio_pages,
                "x",
                "<= 3x",
                ratio_pages <= 3,
            ),
            row(f"DB write path vs one COPY of all {n:,} rows", ratio_one, "x", "<= 3x", ratio_one <= 3),
            row(
                f"Per-row ORM save() ({save_sample:,}-row sample) vs DB write path, per row",
                save_ratio,
                "x slower",
                "",
                None,
            ),
            row("DB write path throughput", round(n / importer_s), "rows/s", "", None),
            row(
                f"DB write path, rerun over the {n:,} unchanged rows: first write / rerun time",
                rerun_ratio,
                "x",
                ">= 3x",
                rerun_ratio >= 3,
            ),
        ],
    }


# -- 3. reads at scale -----------------------------------------------------------------------
def _secondary_indexes() -> list[tuple[str, str]]:
    """(name, CREATE statement) of the message table's indexes that back no constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            """,
            [Message._meta.db_table],
        )
        return cursor.fetchall()


def seed_tenants(counts: list[int]) -> tuple[list, float]:
    """One tenant (and account) per count, seeded with one INSERT … SELECT each, the
    secondary indexes dropped before and rebuilt after (as a bulk load would)."""
    from .cases import seed_messages

    made = []
    for i, n in enumerate(counts):
        tenant, owner = make_tenant(f"reads{i}")
        account = ProviderAccount.objects.create(
            tenant=tenant, provider="46elks", name="seeded", currency="SEK"
        )
        made.append((tenant, owner, account, n))
    start = time.perf_counter()
    indexes = _secondary_indexes()
    with as_owner() as conn, conn.cursor() as cursor:
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    try:
        for tenant, _, account, n in made:
            seed_messages(tenant, account, n, vacuum=False)
    finally:
        with as_owner() as conn, conn.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute(f"VACUUM (ANALYZE) {Message._meta.db_table}")
    return made, time.perf_counter() - start


def _requests(tenant, owner, n: int) -> dict[str, Any]:
    """The timed requests for one tenant: name -> a callable doing it (checked for a 200)."""
    from rest_framework.pagination import Cursor

    from core.api_pagination import KeysetPagination

    raw_key = ApiKey.issue(tenant, "bench", created_by=owner)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    dashboard = Client()
    dashboard.force_login(owner)

    def get(client: Client, url: str, params: dict | None = None) -> Any:
        response = client.get(url, params or {})
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} {params}: {response.status_code}")
        return response

    at = Message.objects.for_tenant(tenant).order_by("-created_at", "-id").values("created_at")[n // 2]
    paginator = KeysetPagination()
    paginator.base_url = "http://testserver/api/v1/messages/"
    deep_url = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=str(at["created_at"])))
    now = datetime.now(UTC)
    filters = {
        "status": "failed",
        "direction": "outbound",
        "created_after": (now - timedelta(seconds=n * 0.6)).isoformat(),
        "created_before": (now - timedelta(seconds=n * 0.5)).isoformat(),
    }
    return {
        "api_first_page": lambda: get(api, "/api/v1/messages/"),
        "api_deep_page": lambda: get(api, deep_url),
        "api_filtered": lambda: get(api, "/api/v1/messages/", filters),
        "dashboard_messages": lambda: get(dashboard, f"/t/{tenant.slug}/messages/"),
    }


def _reads(tenants: list[tuple], reps: int) -> list[dict[str, dict]]:
    """Each request of each tenant `reps` times, the tenants interleaved request by request,
    so a burst of load on the shared machine falls on all of them alike."""
    requests = [_requests(tenant, owner, n) for tenant, owner, n in tenants]
    samples: list[dict[str, list[float]]] = [{name: [] for name in r} for r in requests]
    for rep in range(reps + 2):  # two warm-up rounds
        for name in requests[0]:
            for i, r in enumerate(requests):
                start = time.perf_counter()
                r[name]()
                if rep >= 2:
                    samples[i][name].append((time.perf_counter() - start) * 1000)
    return [{name: stats(values) for name, values in s.items()} for s in samples]


def case_reads_scale(total: int, tenants: int, largest: int, small: int, reps: int) -> Result:
    rest = total - largest - small
    others = tenants - 2
    counts = [largest, small] + [rest // others] * others
    made, seed_seconds = seed_tenants(counts)
    (big, big_owner, _, big_n), (little, little_owner, _, little_n) = made[0], made[1]
    at_large, at_small = _reads([(big, big_owner, big_n), (little, little_owner, little_n)], reps)
    staff = User.objects.create_user(
        f"staff-{uuid.uuid4().hex[:6]}@reads.bench", "pw", is_staff=True, is_superuser=True
    )
    admin = Client()
    admin.force_login(staff)
    admin_changelist = timed(lambda: admin.get("/admin/messaging/message/"), reps)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {Message._meta.db_table}")  # noqa: S608
        seeded = cursor.fetchone()[0]
    rows = []
    labels = {
        "api_first_page": "API /api/v1/messages/ first page",
        "api_deep_page": "API deep page (keyset cursor, half-way down)",
        "api_filtered": "API filtered page (status + direction + date range)",
    }
    for key, label in labels.items():
        p95, base = at_large[key]["p95_ms"], at_small[key]["p95_ms"]
        rows.append(row(f"{label}, {big_n:,}-row tenant of {seeded:,}: p95", p95, "ms", "< 50", p95 < 50))
        growth = round(p95 / base, 2) if base else 0
        rows.append(
            row(
                f"{label}: p95 at {big_n:,} rows / p95 at {little_n:,} rows ({base} ms)",
                growth,
                "x",
                "<= 1.5x",
                growth <= 1.5,
            )
        )
    p95 = at_large["dashboard_messages"]["p95_ms"]
    rows.append(row(f"Dashboard message list, {big_n:,}-row tenant: p95", p95, "ms", "< 150", p95 < 150))
    p95 = admin_changelist["p95_ms"]
    rows.append(
        row(f"Admin Message changelist over {seeded:,} rows (staff): p95", p95, "ms", "< 300", p95 < 300)
    )
    return {
        "messages": seeded,
        "tenants": tenants,
        "counts": {"largest": big_n, "small": little_n, "each_other": counts[2] if others else 0},
        "seed_seconds": round(seed_seconds, 1),
        "at_largest": at_large,
        "at_small": at_small,
        "admin_changelist": admin_changelist,
        "rows": rows,
    }


__all__ = ["case_reads_scale", "case_sync_http", "case_write_path", "stats"]
