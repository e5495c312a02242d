from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and tenancy"

    def ready(self):
        from .api_fields import require_strings_for_char_fields  # DRF settings need the app registry

        require_strings_for_char_fields()
