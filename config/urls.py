from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.urls import tenant_urlpatterns

from .api import router

handler400 = "core.api_errors.bad_request"
handler403 = "core.api_errors.permission_denied"
handler404 = "core.api_errors.page_not_found"
handler500 = "core.api_errors.server_error"

tenant_patterns = [
    path("", include("dashboard.urls")),
    path("", include("billing.urls")),
    path("", include("providers.urls")),
    path("messages/", include("messaging.urls")),
    path("calls/", include("calls.urls")),
    path("numbers/", include("numbers.urls")),
    *tenant_urlpatterns,
]


# The docs page loads its init script from itself (?script): no inline script under our CSP.
swagger = SpectacularSwaggerSplitView.as_view(url_name="api-schema")


@csp_update({"style-src": ["'unsafe-inline'"]})  # Swagger UI's page carries a <style> block
def api_docs(request, *args, **kwargs):
    """Browsable docs for logged-in users (an API key may fetch /api/schema/ directly)."""
    if not request.user.is_authenticated and "HTTP_AUTHORIZATION" not in request.META:
        return redirect_to_login(request.get_full_path())
    return swagger(request, *args, **kwargs)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/", include("providers.webhook_urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("", include("accounts.urls")),
]
