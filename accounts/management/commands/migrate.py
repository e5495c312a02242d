"""`migrate`, connected as the schema owner (DATABASE_OWNER_USER) instead of DATABASE_URL's
application role, which may not change the schema (docs/security.md)."""

from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS

from accounts.rls_setup import as_owner


class Command(MigrateCommand):
    def execute(self, *args, **options):
        # Around execute, not handle: the system checks before handle connect too.
        with as_owner(options.get("database") or DEFAULT_DB_ALIAS):
            return super().execute(*args, **options)
