"""Webhooks in, mounted at `hooks/` by config/urls.py."""

from django.urls import path, re_path

from . import webhooks

app_name = "providers"

urlpatterns = [
    path("<str:provider>/<str:token>/<str:kind>/", webhooks.receive, name="webhook"),
    # Some providers drop the trailing slash; a redirect would lose a POST body.
    re_path(r"^(?P<provider>[^/]+)/(?P<token>[^/]+)/(?P<kind>[^/]+)$", webhooks.receive),
]
