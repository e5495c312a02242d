"""`manage.py sync_account <id> [--resource R ...]`: run one sync inline, with progress."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.rls import runs_in_tenant_of
from providers.adapters import RESOURCES
from providers.models import ProviderAccount, SyncRun
from providers.sync import run_sync


class Command(BaseCommand):
    help = "Sync one provider account's history now, in this process (exits 1 when the run fails)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("account_id", type=int)
        parser.add_argument(
            "--resource", action="append", choices=RESOURCES, help="Only this resource (repeatable)."
        )

    @runs_in_tenant_of(account_id=ProviderAccount)
    def handle(self, *args, account_id: int, resource: list[str] | None, **options) -> None:
        # cross-tenant: an operator's command addresses any account by id.
        account = ProviderAccount.objects.filter(pk=account_id).first()
        if account is None:
            raise CommandError(f"No provider account {account_id}.")
        run = SyncRun.objects.create(
            tenant_id=account.tenant_id, account=account, trigger=SyncRun.Trigger.COMMAND
        )
        bars: dict[str, tqdm] = {}

        def progress(name: str, state: dict[str, Any]) -> None:
            bar = bars.get(name)
            if bar is None:
                bar = bars[name] = tqdm(desc=name, unit=" rows", file=self.stderr._out, leave=True)
            bar.update(state["fetched"] - bar.n)
            bar.set_postfix(pages=state["pages"], created=state["created"], status=state["status"])
            if state["status"] != "running":
                bar.close()

        run = run_sync(run, resources=resource, progress=progress)
        for bar in bars.values():
            bar.close()
        for name, state in run.resources.items():
            line = (
                f"{name:12} {state['status']:9} pages={state['pages']} fetched={state['fetched']} "
                f"created={state['created']} updated={state['updated']}"
            )
            self.stdout.write(line + (f"  error: {state['error']}" if state["error"] else ""))
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Sync run {run.pk} failed: {run.error}", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"Sync run {run.pk} succeeded in {run.duration}."))
