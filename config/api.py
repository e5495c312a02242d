"""The API router: every app's viewsets are registered here (config wires, apps implement)."""

from rest_framework.routers import DefaultRouter

from accounts.api import ApiKeyViewSet, AuditLogViewSet, TenantViewSet
from billing.api import (
    BalanceViewSet,
    BillingSettingsViewSet,
    NotificationViewSet,
    StatementViewSet,
    UsageViewSet,
)
from calls.api import CallViewSet, RecordingViewSet
from messaging.api import BulkSendViewSet, ConversationViewSet, MediaViewSet, MessageViewSet
from numbers.api import PhoneNumberViewSet
from providers.api import (
    ProviderAccountViewSet,
    ProviderLogViewSet,
    SubaccountViewSet,
    SyncRunViewSet,
    WebhookEventViewSet,
)

router = DefaultRouter()
# /api/v1/ lists the resources (browsable when opened in a logged-in browser).
router.include_root_view = True
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("tenant", TenantViewSet, basename="tenant")
router.register("audit-log", AuditLogViewSet, basename="audit-log")
router.register("provider-accounts", ProviderAccountViewSet, basename="provider-account")
router.register("subaccounts", SubaccountViewSet, basename="subaccount")
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
router.register("webhook-events", WebhookEventViewSet, basename="webhook-event")
router.register("provider-logs", ProviderLogViewSet, basename="provider-log")
router.register("numbers", PhoneNumberViewSet, basename="number")
router.register("messages", MessageViewSet, basename="message")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("media", MediaViewSet, basename="media")
router.register("bulk-sends", BulkSendViewSet, basename="bulk-send")
router.register("calls", CallViewSet, basename="call")
router.register("recordings", RecordingViewSet, basename="recording")
router.register("usage", UsageViewSet, basename="usage")
router.register("balances", BalanceViewSet, basename="balance")
router.register("statements", StatementViewSet, basename="statement")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("billing-settings", BillingSettingsViewSet, basename="billing-settings")
