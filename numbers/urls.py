from django.urls import path

from . import views

# Mounted under /t/<tenant_slug>/numbers/ by config.urls.
urlpatterns = [
    path("", views.number_list, name="numbers"),
    path("allocate/", views.number_allocate, name="number-allocate"),
    path("<int:pk>/", views.number_detail, name="number"),
    path("<int:pk>/release/", views.number_release, name="number-release"),
]
