"""`flush` (also run by transactional tests between tests), connected as the schema owner:
the application role has no TRUNCATE, which ignores row-level security."""

from django.core.management.commands.flush import Command as FlushCommand

from accounts.rls_setup import as_owner


class Command(FlushCommand):
    def handle(self, **options):
        with as_owner(options["database"]):
            return super().handle(**options)
