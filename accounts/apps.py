from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and tenancy"

    def ready(self) -> None:
        from core.api_fields import require_strings_for_char_fields  # DRF settings need the app registry

        from . import rls, rls_setup

        rls.connect_task_signals()
        # After every migrate (its last app's signal), cover tenant-owned tables added since.
        post_migrate.connect(rls_setup.post_migrate, sender=self, dispatch_uid="accounts.rls_setup")
        require_strings_for_char_fields()
