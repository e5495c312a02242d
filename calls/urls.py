from django.urls import path

from . import views

# Mounted under /t/<tenant_slug>/calls/ by config.urls.
urlpatterns = [
    path("", views.call_list, name="calls"),
    path("export.csv", views.call_export, name="calls-export"),
    path("new/", views.place_call, name="place-call"),
    path("<int:pk>/", views.call_detail, name="call"),
    path("recordings/", views.recordings, name="recordings"),
    path("recordings/<int:pk>/audio/", views.recording_audio, name="recording-audio"),
]
