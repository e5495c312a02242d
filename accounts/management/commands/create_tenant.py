from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_slug

from accounts.rls import cross_tenant
from accounts.services import create_tenant


class Command(BaseCommand):
    help = "Create a tenant with its owner (and user if new); --api-key prints a key last."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="Owner's email address.")
        parser.add_argument("--password", help="Password for a new owner (or to reset it).")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--api-key", action="store_true", help="Issue a key with all scopes.")

    @cross_tenant("create_tenant creates a tenant and its owner's membership")
    def handle(self, *args, slug, name, owner, password, timezone, currency, api_key, **opts):
        try:
            validate_slug(slug)
            validate_email(owner)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        setup = create_tenant(
            slug, name, owner, password, timezone=timezone, currency=currency, with_api_key=api_key
        )
        verb = "Created" if setup.tenant_created else "Found"
        self.stdout.write(f"{verb} tenant {setup.tenant.slug} ({setup.tenant.name})")
        who = "new user" if setup.user_created else "existing user"
        self.stdout.write(f"Owner: {setup.owner.email} ({who})")
        if setup.raw_key:
            self.stdout.write(
                f"API key {setup.api_key.prefix}… with scopes {', '.join(setup.api_key.scopes)}:"
            )
            self.stdout.write(setup.raw_key)
