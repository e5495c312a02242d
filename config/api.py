"""The API router: every app's viewsets are registered here (config wires, apps implement)."""

from rest_framework.routers import DefaultRouter

from accounts.api import ApiKeyViewSet, TenantViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("tenant", TenantViewSet, basename="tenant")
