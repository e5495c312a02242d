from django.apps import AppConfig


class NumbersConfig(AppConfig):
    name = "numbers"

    def ready(self) -> None:
        from providers.importing import register_importer

        from .importers import upsert_numbers

        register_importer("numbers", upsert_numbers)
