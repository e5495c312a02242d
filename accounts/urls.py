from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

# Mounted under /t/<tenant_slug>/ by config.urls. The overview ("tenant-home") lives in
# billing.urls: it reads rollups and balances, which this bottom layer may not import.
tenant_urlpatterns = [
    path("settings/api-keys/", views.api_keys, name="api-keys"),
    path("settings/api-keys/new/", views.api_key_create, name="api-key-create"),
    path("settings/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("settings/members/", views.members, name="members"),
]
