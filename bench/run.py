"""`make bench`: run every benchmark case in its own process on the bench database, then
write bench/results.json and the results table of bench/README.md.

    python -m bench.run                 # all cases (scripts/bench.sh sets the database up)
    python -m bench.run --case upsert   # one case, printed
BENCH_QUICK=1 uses small sizes, to iterate on the benchmarks themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

# name -> (function in bench.cases, keyword arguments): full sizes, then quick ones.
CASES: dict[str, tuple[str, dict]] = {
    "sync_10k": ("case_sync", {"size": 10_000, "reps": 3}),
    "sync_100k": ("case_sync", {"size": 100_000, "reps": 1}),
    "upsert": ("case_upsert", {"reps": 30, "background": 50_000}),
    "lists": ("case_lists", {"n": 1_000_000, "reps": 15, "depth": 500_000}),
    "send": ("case_send", {"n": 300, "threads": 8, "cap": 100}),
    "webhooks": ("case_webhooks", {"n": 1000}),
    "sandbox_pages": ("case_sandbox_pages", {"size": 1_000_000, "reps": 10}),
    # Issue 11 (bench/scale.py): sync over HTTP from the sandbox server, the write path against
    # COPY and save(), reads at 10M messages (BENCH_READS_TOTAL overrides the size).
    "sync_http": (
        "scale.case_sync_http",
        {"plan": {"46elks": [100_000, 1_000_000], "sipcentric": [100_000]}},
    ),
    "write_path": ("scale.case_write_path", {"n": 100_000, "page_size": 100, "save_sample": 2_000}),
    "reads_scale": (
        "scale.case_reads_scale",
        {
            "total": int(os.environ.get("BENCH_READS_TOTAL", 10_000_000)),
            "tenants": 20,
            "largest": 1_000_000,
            "small": 10_000,
            "reps": 60,
        },
    ),
    "serve": (
        "case_serve",
        {
            "burst": 3000,
            "clients": 16,
            "steady_rate": 50,
            "steady_seconds": 10,
            "hooks": 2000,
            "hook_clients": 32,
            "cap": 50,
        },
    ),
}
QUICK_CASES: dict[str, tuple[str, dict]] = {
    "sync_10k": ("case_sync", {"size": 1_000, "reps": 2}),
    "sync_100k": ("case_sync", {"size": 5_000, "reps": 1}),
    "upsert": ("case_upsert", {"reps": 5, "background": 2_000}),
    "lists": ("case_lists", {"n": 50_000, "reps": 3, "depth": 25_000}),
    "send": ("case_send", {"n": 30, "threads": 4, "cap": 10}),
    "webhooks": ("case_webhooks", {"n": 100}),
    "sandbox_pages": ("case_sandbox_pages", {"size": 1_000_000, "reps": 3}),
    "sync_http": ("scale.case_sync_http", {"plan": {"46elks": [2_000, 10_000], "sipcentric": [2_000]}}),
    "write_path": ("scale.case_write_path", {"n": 5_000, "page_size": 100, "save_sample": 200}),
    "reads_scale": (
        "scale.case_reads_scale",
        {"total": 200_000, "tenants": 20, "largest": 50_000, "small": 10_000, "reps": 10},
    ),
    "serve": (
        "case_serve",
        {
            "burst": 300,
            "clients": 16,
            "steady_rate": 50,
            "steady_seconds": 3,
            "hooks": 200,
            "hook_clients": 32,
            "cap": 10,
        },
    ),
}


def run_case(name: str, out: Path) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from importlib import import_module

    from accounts.rls import rls_bypass

    function, kwargs = (QUICK_CASES if QUICK else CASES)[name]
    module, _, function = function.rpartition(".")
    start = time.perf_counter()
    # The driver builds and checks rows across tenants; requests and tasks it runs set their own.
    with rls_bypass(f"bench case {name}"):
        result = getattr(import_module(f"bench.{module or 'cases'}"), function)(**kwargs)
    result["wall_seconds"] = round(time.perf_counter() - start, 1)
    out.write_text(json.dumps(result, indent=2, default=str))


def spawn(name: str) -> dict:
    """One case in a fresh process; {"error": ...} when it failed (the others still run)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    try:
        done = subprocess.run([sys.executable, "-m", "bench.run", "--case", name, "--out", str(out)])  # noqa: S603
        if done.returncode != 0:
            return {"error": f"exit status {done.returncode}; see the output above"}
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def machine() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgres": os.environ.get("BENCH_PG_VERSION", ""),
    }


# -- the table ------------------------------------------------------------------------------------
def ms(s: dict) -> str:
    return f"{s['median_ms']:,.1f} ms (p95 {s['p95_ms']:,.1f}, n={s['n']})"


def table(results: dict) -> str:
    r = {k: v for k, v in results["cases"].items() if "error" not in v}
    rows: list[tuple[str, str, str]] = []
    for key in ("sync_10k", "sync_100k"):
        if key in r:
            c = r[key]
            rows.append(
                (
                    f"Sync import, {c['messages']:,} messages ({c['pages']} pages)",
                    f"{c['messages_per_second_median']:,} msg/s; {ms(c['import_seconds'])}",
                    f"peak RSS {c['rss_peak_mb']} MB (+{c['rss_growth_mb']} MB over start)",
                )
            )
            rows.append(
                (
                    f"Sync rerun over {c['messages']:,} imported messages",
                    ms(c["rerun_ms"]),
                    f"rows changed: {c['rerun_rows_changed']}, created: {c['rerun_created']}, "
                    f"rollups unchanged: {c['rerun_rollups_unchanged']}",
                )
            )
    if "upsert" in r:
        c = r["upsert"]
        for key, label in (("new_page", "new records"), ("existing_page", "existing records")):
            rows.append(
                (
                    f"Upsert 100 {label}: set-based vs per-row update_or_create",
                    f"{ms(c[key]['set_based'])} vs {ms(c[key]['naive'])}",
                    f"**{c[key]['ratio']}x** faster (table: {c['background_rows']:,} rows)",
                )
            )
    if "lists" in r:
        c = r["lists"]
        n = f"{c['rows']:,}"
        rows += [
            (f"API /api/v1/messages/ first page, {n} rows", ms(c["api_first_page"]), ""),
            (
                f"API deep page (row {c['depth']:,}) via keyset cursor",
                ms(c["api_deep_page_keyset"]),
                "",
            ),
            (
                f"Deep page query at row {c['depth']:,}: keyset vs OFFSET",
                f"{ms(c['query_deep_page']['keyset'])} vs {ms(c['query_deep_page']['offset'])}",
                f"**{c['query_deep_page']['ratio']}x** faster",
            ),
            (
                "API filtered list (status, direction, date range)",
                ms(c["api_filtered"]),
                f"{c['api_filtered_count']} rows on the page",
            ),
            (f"Admin Message changelist, {n} rows", ms(c["admin_changelist"]), ""),
            ("Admin changelist filtered by status", ms(c["admin_changelist_filtered"]), ""),
            (f"Dashboard /t/<slug>/messages/, {n} rows", ms(c["dashboard_messages"]), ""),
        ]
    if "send" in r:
        c = r["send"]
        lim = c["limits"]
        rows += [
            (
                f"Send: queue_message + send_message, {c['messages']} messages",
                f"{c['queue_and_send_per_second']:,} msg/s (queue alone {c['queue_per_second']:,}/s)",
                f"statuses {c['statuses']}, provider sends {c['provider_sends']}",
            ),
            (
                f"Limits: {lim['threads']} threads reserving against a cap of {lim['cap']}",
                f"{lim['reservations_per_second']:,} reservations/s",
                f"passes {lim['passes']} of {lim['attempts']} attempts; "
                f"equal to cap: {lim['passes_equal_cap']}",
            ),
        ]
    if "webhooks" in r:
        c = r["webhooks"]
        rows.append(
            (
                f"Webhook ingest /hooks/46elks/<token>/dlr/, {c['requests']} requests",
                f"{c['requests_per_second']:,} req/s; {ms(c['latency'])}",
                f"{c['stored']} events stored",
            )
        )
    if "sandbox_pages" in r:
        c = r["sandbox_pages"]
        for provider in ("46elks", "callr", "sipcentric", "jambonz"):
            if provider in c:
                kind = "call" if provider == "jambonz" else "message"
                rows.append(
                    (
                        f"Sandbox {provider}: first 3 history pages of a {c['messages']:,}-{kind} account",
                        ms(c[provider]),
                        "target < 2 s (46elks), < 5 s (others): "
                        + met(c[provider]["p95_ms"] < (2000 if provider == "46elks" else 5000)),
                    )
                )
    if "serve" in r and not isinstance(r["serve"].get("rows"), list) and "error" not in r["serve"]:
        rows.append(("`make serve`", "not shown", "results of an older format; rerun the case"))
    # Cases that report {"rows": [{"name", "value", "unit", "target", "met"}]} (bench/scale.py).
    for c in r.values():
        for x in c.get("rows", []) if isinstance(c.get("rows"), list) else []:
            verdict = "" if x["met"] is None else met(x["met"])
            target = f"target {x['target']}: {verdict}" if x["target"] else "(printed, no target)"
            rows.append((x["name"], f"{x['value']:,} {x['unit']}", target))
    lines = ["| Benchmark | Median (p95) | Notes |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += [f"| {k} | failed | {v['error']} |" for k, v in results["cases"].items() if "error" in v]
    m = results["machine"]
    header = (
        f"Run {results['finished_at']} ({'BENCH_QUICK sizes' if results['quick'] else 'full sizes'}), "
        f"{results['total_seconds']:.0f} s in all, on {m['cpus']} cores ({m['cpu']}), "
        f"{m['memory_gb']} GB RAM, Python {m['python']}, {m['postgres']}."
    )
    if results.get("serve_run"):  # a case merged in from a run of its own (BENCH_MERGE)
        header += f" The `serve` rows: {results['serve_run']}."
    return header + "\n\n" + "\n".join(lines) + "\n"


def met(flag: bool) -> str:
    return "**met**" if flag else "**missed**"


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def write_readme(results: dict) -> None:
    readme = HERE / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{table(results)}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", nargs="*", help="Run these cases only (results.json is still written).")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="Keep the other cases' results in results.json and the table (with --only).",
    )
    args = parser.parse_args()
    if args.case:
        out = args.out or Path(tempfile.mkstemp(suffix=".json")[1])
        run_case(args.case, out)
        if not args.out:
            print(out.read_text())
        return
    start = time.perf_counter()
    results: dict = {"quick": QUICK, "machine": machine(), "cases": {}}
    previous = HERE / "results.json"
    if args.merge and previous.exists():
        earlier = json.loads(previous.read_text())
        results["cases"] = earlier.get("cases", {})
        if "serve" not in (args.only or CASES) and earlier.get("serve_run"):
            results["serve_run"] = earlier["serve_run"]  # the note on the serve rows kept
    for name in args.only or CASES:
        print(f"== {name}", flush=True)
        results["cases"][name] = spawn(name)
        print(json.dumps(results["cases"][name], indent=2), flush=True)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    results["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_readme(results)
    print(table(results))
    if any("error" in c for c in results["cases"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
