from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from accounts.rls import tenant_context
from billing.rebuild import rebuild_usage


class Command(BaseCommand):
    help = "Recompute the daily usage rollups of one or all tenants from the raw message and call rows."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Tenant slug (default: every tenant).")

    def handle(self, *args, tenant=None, **opts):
        tenants = Tenant.objects.all()  # cross-tenant: an operator's repair tool
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant {tenant!r}.")
        for t in tenants:
            with tenant_context(t):
                rows = rebuild_usage(t)
            self.stdout.write(f"{t.slug}: {rows} rollup rows rebuilt")
