from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"

    def ready(self) -> None:
        from providers.adapters.records import EventType
        from providers.importing import register_event_handler, register_importer

        from .importers import apply_call_status, upsert_calls, upsert_recordings

        register_importer("calls", upsert_calls)
        register_importer("recordings", upsert_recordings)
        register_event_handler(EventType.CALL_STATUS, apply_call_status)
