from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from providers.purge import PurgeStep, register_purge_steps
        from providers.signals import sync_finished

        from .receivers import snapshot_after_sync

        sync_finished.connect(snapshot_after_sync, dispatch_uid="billing.snapshot_after_sync")
        register_purge_steps(
            PurgeStep("billing.DailyUsage", "provider_account", rank=70),
            PurgeStep("billing.DailyUsage", "subaccount", rank=71),
            PurgeStep("billing.UsageEntry", "provider_account", rank=72),
            PurgeStep("billing.UsageEntry", "subaccount", rank=73),
            PurgeStep("billing.BalanceSnapshot", "provider_account", rank=74),
        )
