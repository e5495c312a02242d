"""The history sync engine: walk each resource an account's provider supports, one page
at a time from the stored cursor, and hand every page to the domain importer registered
for it (providers never imports the domain apps).

A page's rows, its new cursor and the run's progress are written together (one savepoint
per page, the bookkeeping in one statement) and committed with it, a few pages per
transaction (COMMIT_PAGES / COMMIT_SECONDS: one WAL flush for several pages), so a crash or
a failure mid-history never loses or double-counts a page: the next run resumes from the
last committed cursor. The next pages are fetched and parsed while one is written
(`providers.prefetch`): the page being written, one parsed and one fetched ahead, plus the
two in the making, in memory.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from . import connect, page_memory
from .adapters import RESOURCES, Adapter
from .adapters.errors import AuthFailed, NotSupported, ProviderError
from .adapters.records import Capability, RawPage
from .adapters.retry import READ_POLICY, call_with_retry
from .ingest import UpsertResult, importer_for
from .locks import provider_slot, sync_lock
from .models import ProviderAccount, SyncRun
from .prefetch import Prefetcher
from .scheduling import start_sync
from .signals import sync_finished

logger = logging.getLogger(__name__)

ALREADY_RUNNING = "skipped: already running"
NO_IMPORTER = "skipped: no importer registered"
# Tests replace this to retry without waiting.
sleep: Callable[[float], None] = time.sleep

Progress = Callable[[str, dict[str, Any]], None]
# Pages written per transaction (each in its own savepoint, with its cursor): at most this
# many, or as many as fit in COMMIT_SECONDS. A crash loses at most the uncommitted batch,
# which the next run fetches again from the last committed cursor.
COMMIT_PAGES = getattr(settings, "SYNC_COMMIT_PAGES", 10)
COMMIT_SECONDS = getattr(settings, "SYNC_COMMIT_SECONDS", 0.5)
FINISHED = ("succeeded", "skipped")


def run_sync(
    run: SyncRun,
    *,
    resources: Sequence[str] | None = None,
    progress: Progress | None = None,
    enqueue_subaccounts: bool = True,
) -> SyncRun:
    """Run a queued SyncRun to the end (also resumes a run orphaned by a dead worker).

    A run that finds another one holding the account's lock ends at once as failed with
    "skipped: already running"; the dispatcher simply tries again on its next tick. A run
    that finds its provider's SYNC_PROVIDER_CONCURRENCY slots taken stays queued (the task
    tries again shortly).
    """
    with sync_lock(run.account_id) as lock:
        run.refresh_from_db()
        if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
            return run  # a redelivered task: already done
        if not lock.held:
            _finish(run, SyncRun.Status.FAILED, ALREADY_RUNNING)
            return run
        account = ProviderAccount.objects.select_related("parent").get(pk=run.account_id)
        with provider_slot(account.provider, settings.SYNC_PROVIDER_CONCURRENCY) as slot:
            if not slot.held:
                return run  # still queued: the task tries again shortly (sync_account)
            run.status = SyncRun.Status.RUNNING
            run.started_at = run.started_at or timezone.now()
            run.resources = {}
            run.save(update_fields=["status", "started_at", "resources"])
            _walk(
                run,
                account,
                resources or RESOURCES,
                progress,
                lambda: lock.refresh() and slot.refresh(),
                enqueue_subaccounts,
            )
    sync_finished.send(sender=ProviderAccount, account=account, run=run)
    return run


def _walk(
    run: SyncRun,
    account: ProviderAccount,
    resources: Sequence[str],
    progress: Progress | None,
    heartbeat: Callable[[], bool],
    enqueue_subaccounts: bool,
) -> None:
    abort: str = ""
    auth_failed = False
    logs = connect.BufferedLog(account)  # written by this thread, not the prefetching one
    try:
        with connect.open_adapter(account, recorder=logs.append) as adapter:
            for resource in resources:
                state = _new_state(account, resource)
                run.resources[resource] = state
                if abort:
                    state.update(status="failed", error=abort)
                elif not account.can(Capability(resource)) or (
                    resource == "subaccounts" and account.parent_id
                ):
                    state["status"] = "skipped"
                else:
                    try:
                        importer = importer_for(resource)
                    except LookupError:
                        state.update(status="skipped", error=NO_IMPORTER)
                    else:
                        try:
                            _sync_resource(
                                run,
                                account,
                                adapter,
                                resource,
                                importer,
                                state,
                                progress,
                                heartbeat,
                                logs.flush,
                            )
                        except AuthFailed as exc:
                            auth_failed = True
                            abort = f"not attempted: {exc.message}"
                        except SoftTimeLimitExceeded:
                            state.update(status="failed", error="time limit reached; the next run resumes")
                            abort = "not attempted: time limit reached"
                run.save(update_fields=["resources"])
                if progress:
                    progress(resource, state)
                if resource == "subaccounts" and state["status"] == "succeeded" and enqueue_subaccounts:
                    _enqueue_subaccount_syncs(account, run.trigger)
    except ProviderError as exc:  # building the adapter failed
        run.error = exc.message
    except Exception as exc:  # never leave a run "running": record it and move on
        logger.exception("Sync run %s of account %s crashed", run.pk, account.pk)
        run.error = f"Internal error ({type(exc).__name__})."
    failed = {r: s for r, s in run.resources.items() if s["status"] not in FINISHED}
    error = run.error or "; ".join(f"{r}: {s['error']}" for r, s in failed.items())
    _finish(run, SyncRun.Status.FAILED if failed or run.error else SyncRun.Status.SUCCEEDED, error)
    _record_on_account(account, run, auth_failed)


def _new_state(account: ProviderAccount, resource: str) -> dict[str, Any]:
    cursor = (account.sync_cursors or {}).get(resource)
    return {
        "status": "running",
        "pages": 0,
        "fetched": 0,
        "created": 0,
        "updated": 0,
        "error": "",
        "cursor_before": cursor,
        "cursor_after": cursor,
    }


def _sync_resource(
    run: SyncRun,
    account: ProviderAccount,
    adapter: Adapter,
    resource: str,
    importer: Callable,
    state: dict[str, Any],
    progress: Progress | None,
    heartbeat: Callable[[], bool],
    write_logs: Callable[[], None],
) -> None:
    def fetch(cursor: str | None) -> RawPage:
        return call_with_retry(lambda: adapter.fetch_page(resource, cursor), READ_POLICY, sleep)

    try:
        with Prefetcher(fetch, state["cursor_before"], parse=RawPage.parse) as pages:
            done = False
            while not done:
                failure: Exception | None = None
                # A batch of pages per transaction (one WAL flush for several pages); each
                # page in a savepoint with its cursor and the run's progress, so a page is
                # written whole or not at all and the cursor never runs ahead of its rows.
                with transaction.atomic():
                    started = time.monotonic()
                    for _ in range(COMMIT_PAGES):
                        try:
                            page = next(pages)
                        except StopIteration:
                            done = True
                            break
                        except Exception as exc:  # a fetch error: the pages before it are kept
                            failure = exc
                            break
                        before = dict(state)  # scalar values only
                        digest = page_memory.page_digest(resource, page.items)
                        try:
                            with transaction.atomic():
                                write_logs()
                                if page_memory.written_before(account, resource, digest):
                                    # written by an earlier sync: every record unchanged
                                    result = UpsertResult(created=0, updated=len(page.items))
                                    digest = None
                                else:
                                    result = importer(account, page.items)
                                state["pages"] += 1
                                state["fetched"] += len(page.items)
                                state["created"] += result.created
                                state["updated"] += result.updated
                                state["cursor_after"] = page.cursor
                                if page.done:
                                    state["status"] = "succeeded"
                                _save_progress(account, run, resource, page.cursor, digest)
                        except Exception as exc:  # the page is rolled back; earlier ones are kept
                            state.clear()
                            state.update(before)
                            failure = exc
                            break
                        if progress:
                            progress(resource, state)
                        if page.done:
                            done = True
                            break
                        if time.monotonic() - started >= COMMIT_SECONDS:
                            break
                if failure is not None:
                    raise failure
                if not done and not heartbeat():
                    raise _LockLost
    except _LockLost:
        state.update(status="failed", error="lost the sync lock; the next run resumes")
    except NotSupported as exc:
        # This account's configuration can't list the resource (e.g. subaccounts
        # without a service-provider key): nothing to sync, not a failure.
        state.update(status="skipped", error=f"skipped: {exc.message}")
    except ProviderError as exc:
        # The provider's message is safe to store; credentials never reach it.
        write_logs()
        state.update(status="failed", error=exc.message)
        if isinstance(exc, AuthFailed):
            raise
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        logger.exception("Importing %s of account %s failed", resource, account.pk)
        state.update(status="failed", error=f"Internal error while importing ({type(exc).__name__}).")


class _LockLost(Exception):
    pass


def _save_progress(
    account: ProviderAccount, run: SyncRun, resource: str, cursor: str | None, digest: bytes | None
) -> None:
    """The resource's new cursor (a key-level jsonb merge, so a concurrent save of other
    fields cannot interleave badly), the page's digest if it is to be remembered
    (providers.page_memory) and the run's progress, in one statement."""
    with connection.cursor() as db:
        db.execute(
            f"""
            WITH cursor_saved AS (
                UPDATE {ProviderAccount._meta.db_table}
                SET sync_cursors = COALESCE(sync_cursors, '{{}}'::jsonb) || %s::jsonb WHERE id = %s
            ), {page_memory.remember_sql()}
            UPDATE {SyncRun._meta.db_table} SET resources = %s::jsonb WHERE id = %s
            """,  # noqa: S608 - table names are ours, values are parameters
            [
                json.dumps({resource: cursor}),
                account.pk,
                account.tenant_id,
                account.pk,
                resource,
                digest,
                json.dumps(run.resources, cls=DjangoJSONEncoder),
                run.pk,
            ],
        )
    account.sync_cursors = {**(account.sync_cursors or {}), resource: cursor}


def _finish(run: SyncRun, status: str, error: str) -> None:
    run.status = status
    run.error = error[:5000]
    run.finished_at = timezone.now()
    run.started_at = run.started_at or run.finished_at
    run.save(update_fields=["status", "error", "finished_at", "started_at", "resources"])


def _record_on_account(account: ProviderAccount, run: SyncRun, auth_failed: bool) -> None:
    # last_synced_at moves on failures too: it paces the dispatcher, so a broken account is
    # retried every sync_interval rather than every minute. last_error says how it went.
    fields: dict[str, Any] = {"last_synced_at": run.finished_at, "last_error": run.error}
    if auth_failed:
        fields["status"] = ProviderAccount.Status.ERROR
    elif run.status == SyncRun.Status.SUCCEEDED and account.status == ProviderAccount.Status.ERROR:
        fields["status"] = ProviderAccount.Status.ACTIVE  # the credentials work again
    ProviderAccount.objects.filter(pk=account.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(account, name, value)


def _enqueue_subaccount_syncs(account: ProviderAccount, trigger: str) -> None:
    if account.parent_id:
        return
    subaccounts = ProviderAccount.objects.filter(
        parent=account, status=ProviderAccount.Status.ACTIVE, sync_enabled=True
    ).exclude(sync_runs__status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
    for sub in subaccounts:
        start_sync(sub, trigger)
