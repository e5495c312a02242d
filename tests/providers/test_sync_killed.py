"""A sync whose worker process is killed mid-history (SIGKILL: no cleanup, no rollback
handler) resumes from its last committed page: every message of the provider's history is
stored exactly once and the rollups equal a recount. Real processes: the sandbox as its own
HTTP server, the sync in a subprocess through the real engine and write path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.db import connection

from billing.ledger import fold_all
from billing.rebuild import current, recount
from messaging.models import Message
from providers.locks import _key as lock_key
from providers.locks import client
from providers.models import ProviderAccount, SyncRun
from providers.sandbox_accounts import connect_sandbox_account, sandbox_registration
from providers.sync import run_sync

ROOT = Path(__file__).resolve().parents[2]
SIZE = 2000  # 46elks: 2,000 SMS and 200 MMS, pages of 100

SANDBOX_SERVER = textwrap.dedent(
    """
    from sandbox import Sandbox
    from sandbox.server import SandboxServer
    server = SandboxServer(Sandbox(), "127.0.0.1", 0)
    print(server.httpd.server_address[1], flush=True)
    server.serve_forever()
    """
)
SYNC_WORKER = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from accounts.rls import tenant_context
    from providers.models import SyncRun
    from providers.sync import run_sync
    with tenant_context(int(sys.argv[2])):
        run_sync(SyncRun.objects.get(pk=int(sys.argv[1])), resources=["messages"], enqueue_subaccounts=False)
    """
)


@pytest.fixture
def sandbox_server():
    proc = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_SERVER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.kill()
        proc.wait()


def _worker_env(sandbox_url: str) -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "SANDBOX_URL": sandbox_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip


@contextmanager
def _locks_of_a_dead_worker(account: ProviderAccount):
    """The Redis locks a killed worker leaves (its account's, its provider slot) are dropped
    on the way out, as their TTL would drop them later."""
    before = set(client().keys(lock_key("sync:*")))
    try:
        yield
    finally:
        for key in set(client().keys(lock_key("sync:*"))) - before:
            client().delete(key)


def _wait_for_backends_to_end(exclude_pid: int) -> None:
    """The killed worker's server session may still be finishing a COMMIT it had sent."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s"
                " AND state = 'active'",
                [exclude_pid],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)


def _committed_cursor(account: ProviderAccount) -> str | None:
    return (ProviderAccount.objects.get(pk=account.pk).sync_cursors or {}).get("messages")


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_mid_history_resumes_from_its_last_committed_page(tenant_a, sandbox_server, settings):
    settings.SANDBOX_URL = sandbox_server
    account = connect_sandbox_account(tenant_a, "46elks", sandbox_server, label="killed", seed=9, size=SIZE)
    httpx.post(f"{sandbox_server}/_sandbox/accounts", json=sandbox_registration(account)).raise_for_status()
    # Slow pages, so the kill lands mid-history.
    fault = {"kind": "latency", "provider": "46elks", "endpoint": "GET /a1/sms", "latency": 0.1}
    httpx.post(f"{sandbox_server}/_sandbox/faults", json=fault).raise_for_status()
    run = SyncRun.objects.create(tenant=tenant_a, account=account, trigger=SyncRun.Trigger.COMMAND)
    with _locks_of_a_dead_worker(account):
        worker = subprocess.Popen(
            [sys.executable, "-c", SYNC_WORKER, str(run.pk), str(tenant_a.pk)],
            cwd=ROOT,
            env=_worker_env(sandbox_server),
        )
        try:
            deadline = time.monotonic() + 60
            while (
                Message.objects.filter(provider_account=account).count() < 300 and time.monotonic() < deadline
            ):
                assert worker.poll() is None, "the sync ended before it could be killed"
                time.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    _wait_for_backends_to_end(exclude_pid=connection.connection.info.backend_pid)
    cursor = _committed_cursor(account)
    stored = Message.objects.filter(provider_account=account).count()
    assert cursor is not None and 300 <= stored < SIZE  # killed mid-history, after some commits
    httpx.delete(f"{sandbox_server}/_sandbox/faults").raise_for_status()

    account.refresh_from_db()
    resumed = run_sync(
        SyncRun.objects.create(tenant=tenant_a, account=account, trigger=SyncRun.Trigger.COMMAND),
        resources=["messages"],
        enqueue_subaccounts=False,
    )

    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.error
    assert resumed.resources["messages"]["cursor_before"] == cursor  # not from the start
    assert resumed.resources["messages"]["updated"] == 0  # no committed page fetched again
    messages = Message.objects.filter(provider_account=account)
    assert messages.count() == stored + resumed.resources["messages"]["created"] == SIZE + SIZE // 10
    assert messages.values("remote_id").distinct().count() == messages.count()
    fold_all(tenant_a.pk)
    assert current(tenant_a) == recount(tenant_a)
