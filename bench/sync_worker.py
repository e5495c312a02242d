"""`python -m bench.sync_worker RUN_ID messages,calls`: one SyncRun run to the end in this
process, as `providers.tasks.sync_account` runs it in a Celery worker (the run's tenant as
the RLS context), limited to the resources named; prints one JSON line of measurements."""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import django


def main(run_id: int, resources: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from accounts.rls import tenant_context, tenant_of
    from providers.models import SyncRun
    from providers.sync import run_sync

    with tenant_context(tenant_of(SyncRun, run_id)):
        run = SyncRun.objects.get(pk=run_id)
        start = time.perf_counter()
        run = run_sync(run, resources=resources, enqueue_subaccounts=False)
        seconds = time.perf_counter() - start
    if run.status != SyncRun.Status.SUCCEEDED:
        raise SystemExit(f"sync failed: {run.error} {run.resources}")
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "created": {r: s["created"] for r, s in run.resources.items()},
                "fetched": {r: s["fetched"] for r, s in run.resources.items()},
                "pages": {r: s["pages"] for r, s in run.resources.items()},
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2].split(","))
