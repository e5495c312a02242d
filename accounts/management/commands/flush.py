"""`flush` (also run by transactional tests between tests), connected as the schema owner:
the application role has no TRUNCATE, which ignores row-level security."""

from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS

from accounts.rls_setup import as_owner


class Command(FlushCommand):
    def execute(self, *args, **options):
        # Around execute, not handle: the system checks before handle connect too.
        with as_owner(options.get("database") or DEFAULT_DB_ALIAS):
            return super().execute(*args, **options)
