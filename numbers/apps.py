from django.apps import AppConfig


class NumbersConfig(AppConfig):
    name = "numbers"

    def ready(self) -> None:
        from providers.importing import register_importer
        from providers.purge import PurgeStep, register_purge_steps

        from .importers import upsert_numbers

        register_importer("numbers", upsert_numbers)
        register_purge_steps(
            PurgeStep("numbers.PhoneNumber", "provider_account", rank=50),
            PurgeStep("numbers.PhoneNumber", "subaccount", rank=63, detach=True),
        )
