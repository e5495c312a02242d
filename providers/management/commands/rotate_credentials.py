from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.rls import cross_tenant
from providers import crypto
from providers.models import ProviderAccount


class Command(BaseCommand):
    help = "Re-encrypt every stored provider credential with the newest key in FERNET_KEYS."

    @cross_tenant("rotate_credentials re-encrypts every tenant's accounts")
    def handle(self, *args, **opts):
        count = 0
        # cross-tenant: key rotation covers every tenant's accounts
        for account in ProviderAccount.objects.only(
            "pk", "credentials_encrypted", "webhook_secret_encrypted"
        ).iterator():
            with transaction.atomic():
                ProviderAccount.objects.filter(pk=account.pk).update(
                    credentials_encrypted=crypto.rotate(account.credentials_encrypted),
                    webhook_secret_encrypted=crypto.rotate(account.webhook_secret_encrypted),
                )
            count += 1
        self.stdout.write(f"Re-encrypted credentials of {count} provider account(s).")
