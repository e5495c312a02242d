from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"

    def ready(self) -> None:
        from billing.rebuild import UsageSource, register_usage_source
        from providers.adapters.records import EventType
        from providers.importing import register_event_handler, register_importer
        from providers.purge import PurgeStep, register_purge_steps

        from .importers import apply_call_status, upsert_calls, upsert_recordings

        register_importer("calls", upsert_calls)
        register_importer("recordings", upsert_recordings)
        register_event_handler(EventType.CALL_STATUS, apply_call_status)
        # Deleting a provider account: steps run by rank over all apps, the biggest tables first.
        register_purge_steps(
            PurgeStep("calls.Recording", "provider_account", rank=10),
            PurgeStep("calls.Call", "provider_account", rank=20),
            PurgeStep("calls.Call", "subaccount", rank=61, detach=True),
            PurgeStep("calls.Recording", "subaccount", rank=62, detach=True),
        )
        register_usage_source(
            UsageSource("calls.Call", kinds=("call",), kind="'call'", seconds="COALESCE(duration, 0)")
        )
