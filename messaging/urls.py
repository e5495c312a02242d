from django.urls import path

from . import views

# Mounted under /t/<tenant_slug>/messages/ by config.urls.
urlpatterns = [
    path("", views.message_list, name="messages"),
    path("export.csv", views.message_export, name="messages-export"),
    path("<int:pk>/", views.message_detail, name="message"),
    path("media/<int:pk>/", views.media_content, name="message-media"),
    path("conversations/", views.conversations, name="conversations"),
    path("conversations/thread/", views.thread, name="thread"),
    path("compose/", views.compose, name="compose"),
    path("compose/estimate/", views.estimate, name="compose-estimate"),
    path("bulk/", views.bulk_send, name="bulk-send"),
    path("bulk/<int:pk>/", views.bulk_progress, name="bulk-progress"),
]
