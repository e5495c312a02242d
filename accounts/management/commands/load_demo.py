from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo_tenants
from accounts.rls import cross_tenant


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenants and user. Safe to run again."

    @cross_tenant("load_demo creates tenants and their rows")
    def handle(self, *args, **opts):
        _user, tenants = load_demo_tenants()
        # Apps add to the demo through DEMO_LOADERS (dotted paths taking the tenants).
        for path in getattr(settings, "DEMO_LOADERS", []):
            import_string(path)(tenants, stdout=self.stdout)
        self.stdout.write(f"Demo tenants: {', '.join(t.slug for t in tenants)}")
        self.stdout.write(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
