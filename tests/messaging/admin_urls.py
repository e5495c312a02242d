"""Just the admin, so these tests do not depend on the rest of the URL conf."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
