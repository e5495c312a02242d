from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.urls import tenant_urlpatterns

from .api import router

tenant_patterns = [
    path("", include("billing.urls")),
    path("", include("providers.dashboard_urls")),
    path("messages/", include("messaging.urls")),
    path("calls/", include("calls.urls")),
    path("numbers/", include("numbers.urls")),
    *tenant_urlpatterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/", include("providers.urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("", include("accounts.urls")),
]
