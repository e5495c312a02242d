"""Run the provider sandbox as its own process (started by `make run`).

It serves every ProviderAccount whose base URL points at SANDBOX_URL, rescanning for new
ones, delivers webhooks to PUBLIC_BASE_URL and emits inbound traffic for the demo.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from accounts.rls import cross_tenant
from providers.models import ProviderAccount
from providers.sandbox_accounts import register_with_sandbox
from sandbox import Sandbox
from sandbox.server import SandboxServer


class Command(BaseCommand):
    help = "Serve the local simulator of every provider's API."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument(
            "--emit-every",
            type=float,
            default=20.0,
            help="Seconds between simulated inbound SMS/calls (0 = never).",
        )
        parser.add_argument("--rescan-every", type=float, default=10.0)

    def handle(self, *args, host, port, emit_every, rescan_every, **opts):
        logging.getLogger("sandbox").setLevel(logging.INFO)
        sandbox = Sandbox()
        self.known: dict[int, str] = {}  # account id -> the secret it was registered with
        self.register_accounts(sandbox)
        server = SandboxServer(sandbox, host, port)
        stop = threading.Event()

        def rescan():
            while not stop.wait(rescan_every):
                self.register_accounts(sandbox)

        threading.Thread(target=rescan, daemon=True).start()
        self.stdout.write(f"Sandbox listening on {server.url} ({len(self.known)} accounts)")
        try:
            server.serve_forever(emit_every=emit_every)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()

    @cross_tenant("the sandbox serves every tenant's sandbox accounts", level=logging.DEBUG)
    def register_accounts(self, sandbox: Sandbox) -> None:
        close_old_connections()
        prefix = settings.SANDBOX_URL.rstrip("/") + "/"
        # cross-tenant: the sandbox serves every tenant's sandbox-connected accounts
        accounts = ProviderAccount.objects.filter(base_url__startswith=prefix, parent__isnull=True)
        # New accounts, and those whose webhook secret was set or rotated since: the
        # simulator signs with the secret the tenant set.
        register_with_sandbox(sandbox, accounts, self.known)
