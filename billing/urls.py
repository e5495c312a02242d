from django.urls import path

from . import views

# Mounted under /t/<tenant_slug>/ by config.urls.
urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("usage/daily.json", views.usage_daily, name="usage-daily"),
    path("billing/statement/", views.statement, name="statement"),
    path("billing/statement.csv", views.statement_csv, name="statement-csv"),
    path("billing/settings/", views.billing_settings, name="billing-settings"),
    path("billing/balances/<int:pk>.json", views.balance_history, name="balance-history"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications-read-all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
]
