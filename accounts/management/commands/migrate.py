"""`migrate`, connected as the schema owner (DATABASE_OWNER_USER) instead of DATABASE_URL's
application role, which may not change the schema (docs/security.md)."""

from django.core.management.commands.migrate import Command as MigrateCommand

from accounts.rls_setup import as_owner


class Command(MigrateCommand):
    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
