from django.urls import path

from . import overview, search

# Mounted under /t/<tenant_slug>/ by config.urls.
urlpatterns = [
    path("", overview.overview, name="tenant-home"),
    path("search/", search.search, name="search"),
    path("contact/", search.contact, name="contact"),
]
