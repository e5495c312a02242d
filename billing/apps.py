from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from providers.signals import sync_finished

        from .receivers import snapshot_after_sync

        sync_finished.connect(snapshot_after_sync, dispatch_uid="billing.snapshot_after_sync")
