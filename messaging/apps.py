from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from billing.rebuild import UsageSource, register_usage_source
        from providers.adapters.records import EventType
        from providers.importing import (
            register_batch_event_handler,
            register_event_handler,
            register_importer,
        )
        from providers.purge import PurgeStep, register_purge_steps

        from .importers import (
            apply_inbound_message,
            apply_message_status,
            apply_status_events,
            upsert_messages,
        )

        register_importer("messages", upsert_messages)
        register_event_handler(EventType.MESSAGE_INBOUND, apply_inbound_message)
        register_event_handler(EventType.MESSAGE_STATUS, apply_message_status)
        register_batch_event_handler(EventType.MESSAGE_STATUS, apply_status_events)
        register_purge_steps(
            PurgeStep("messaging.Message", "provider_account", rank=30),
            PurgeStep("messaging.BulkSend", "account", rank=40),
            PurgeStep("messaging.Message", "subaccount", rank=60, detach=True),
        )
        register_usage_source(
            UsageSource("messaging.Message", kinds=("sms", "mms"), parts="COALESCE(parts, 0)")
        )
