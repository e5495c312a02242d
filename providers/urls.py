"""Dashboard routes of the providers app, mounted under /t/<tenant_slug>/ by config.urls
(providers/webhook_urls.py holds the webhook receivers)."""

from django.urls import path

from . import views

urlpatterns = [
    path("providers/", views.account_list, name="provider-accounts"),
    path("providers/connect/", views.account_connect, name="provider-connect"),
    path("providers/<int:pk>/", views.account_detail, name="provider-account"),
    path("providers/<int:pk>/test/", views.account_test, name="provider-test"),
    path("providers/<int:pk>/sync/", views.account_sync, name="provider-sync"),
    path("providers/<int:pk>/edit/", views.account_edit, name="provider-edit"),
    path("providers/<int:pk>/enable/", views.account_enable, name="provider-enable"),
    path("providers/<int:pk>/disable/", views.account_disable, name="provider-disable"),
    path("providers/<int:pk>/delete/", views.account_delete, name="provider-delete"),
    path("providers/<int:pk>/webhook-secret/", views.account_webhook_secret, name="provider-webhook-secret"),
    path("providers/<int:pk>/subaccounts/new/", views.subaccount_create, name="subaccount-create"),
    path("providers/<int:pk>/subaccount/edit/", views.subaccount_edit, name="subaccount-edit"),
    path("syncs/", views.sync_runs, name="sync-runs"),
    path("syncs/<int:pk>/", views.sync_run, name="sync-run"),
    path("debug/logs/", views.log_list, name="provider-logs"),
    path("debug/logs/<int:pk>/", views.log_detail, name="provider-log"),
    path("debug/webhooks/", views.webhook_list, name="webhook-events"),
    path("debug/webhooks/<int:pk>/", views.webhook_detail, name="webhook-event"),
    path("debug/webhooks/<int:pk>/replay/", views.webhook_replay, name="webhook-replay"),
]
