from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"

    def ready(self) -> None:
        from .importers import upsert_subaccounts
        from .ingest import register_importer
        from .purge import PurgeStep, register_purge_steps

        register_importer("subaccounts", upsert_subaccounts)
        register_purge_steps(
            PurgeStep("providers.ProviderLog", "account", rank=80),
            PurgeStep("providers.WebhookEvent", "account", rank=81),
            PurgeStep("providers.SyncRun", "account", rank=82),
            PurgeStep("providers.SyncedPage", "account", rank=83),
        )
