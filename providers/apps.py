from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"

    def ready(self) -> None:
        from .importers import upsert_subaccounts
        from .importing import register_importer

        register_importer("subaccounts", upsert_subaccounts)
