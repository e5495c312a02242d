"""Small things a user notices: Sync now while a run is under way, money with its
currency, statements without empty lines, the connect form in each provider's words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.templatetags.money import money
from billing.models import BillingSettings, DailyUsage
from providers.models import SyncRun
from tests.api import factories as f

pytestmark = pytest.mark.django_db


def test_sync_now_while_a_run_is_under_way_follows_that_run(login, owner_a, tenant_a):
    account = f.root_account(tenant_a)
    running = SyncRun.objects.create(tenant=tenant_a, account=account, status=SyncRun.Status.RUNNING)

    response = login(owner_a).post(reverse("provider-sync", args=[tenant_a.slug, account.pk]))

    assert response["Location"] == reverse("sync-run", args=[tenant_a.slug, running.pk])
    assert SyncRun.objects.filter(account=account).count() == 1


def test_sync_runs_page_polls_while_a_run_is_unfinished(login, member_a, tenant_a):
    run = SyncRun.objects.create(tenant=tenant_a, account=f.root_account(tenant_a))
    client = login(member_a)

    assert 'hx-trigger="every 3s"' in client.get(reverse("sync-runs", args=[tenant_a.slug])).content.decode()
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED)
    html = client.get(reverse("sync-runs", args=[tenant_a.slug]), HTTP_HX_REQUEST="true").content.decode()

    assert "hx-trigger" not in html and "Succeeded" in html


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("100.0000"), "SEK", "100.00 SEK"),
        (Decimal("0.0525"), "EUR", "0.0525 EUR"),
        (Decimal("1250.5"), "GBP", "1\u202f250.50 GBP"),
        (None, "SEK", "—"),
    ],
)
def test_money_is_shown_with_its_currency(amount, currency, shown):
    assert money(amount, currency) == shown


def test_viewer_reads_billing_limits_with_their_currency(login, viewer_a, tenant_a):
    BillingSettings.objects.create(
        tenant=tenant_a, monthly_spend_cap=Decimal("100"), spend_cap_currency="SEK"
    )

    page = login(viewer_a).get(reverse("billing-settings", args=[tenant_a.slug])).content.decode()

    assert "100.00 SEK" in page and "100.0000" not in page


def test_billing_settings_offer_a_currency_list_not_free_text(login, owner_a, tenant_a):
    page = login(owner_a).get(reverse("billing-settings", args=[tenant_a.slug])).content.decode()

    assert '<select name="spend_cap_currency"' in page and '<option value="SEK">SEK</option>' in page


def test_statement_leaves_out_lines_without_usage(login, member_a, tenant_a):
    account = f.root_account(tenant_a)
    today = date.today()
    DailyUsage.objects.create(
        tenant=tenant_a, provider_account=account, day=today, kind="sms", currency="", count=0, cost=0
    )

    page = login(member_a).get(reverse("statement", args=[tenant_a.slug])).content.decode()

    assert "No usage in" in page and "unpriced" not in page


def test_connect_form_names_each_providers_credentials(login, owner_a, tenant_a):
    page = login(owner_a).get(reverse("provider-connect", args=[tenant_a.slug])).content.decode()

    assert "Callr: Enter either API key, or Login and Password" in page
    assert '"46elks": "API username"' in page


@pytest.fixture
def eager_celery(monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)


def test_a_failed_webhook_event_is_replayed_through_the_worker_task(
    login, owner_a, tenant_a, sandbox_account, eager_celery, django_capture_on_commit_callbacks
):
    from accounts.models import AuditLog
    from providers.models import WebhookEvent

    account = sandbox_account(tenant_a, "46elks")
    event = WebhookEvent.objects.create(
        tenant=tenant_a, account=account, provider="46elks", kind="sms", event_key="k1",
        status=WebhookEvent.Status.FAILED, attempts=1, body="",
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = login(owner_a).post(reverse("webhook-replay", args=[tenant_a.slug, event.pk]))

    event.refresh_from_db()
    assert response.status_code == 302 and "replayed=1" in response["Location"]
    assert event.attempts == 2
    assert AuditLog.objects.filter(tenant=tenant_a, action="webhook_event.replay").exists()


def test_viewer_cannot_replay_a_webhook_event(login, viewer_a, tenant_a):
    from providers.models import WebhookEvent

    event = f.FACTORIES[WebhookEvent](tenant_a)

    assert login(viewer_a).post(reverse("webhook-replay", args=[tenant_a.slug, event.pk])).status_code == 403
    page = login(viewer_a).get(reverse("webhook-event", args=[tenant_a.slug, event.pk])).content.decode()
    assert "Replay this event" not in page


def test_message_detail_links_its_webhook_events_and_http_exchanges(login, member_a, tenant_a):
    from providers.models import ProviderLog, WebhookEvent

    message = f.message(tenant_a, remote_id="s4f00d1234", status="delivered")
    account = message.provider_account
    hook = WebhookEvent.objects.create(
        tenant=tenant_a, account=account, provider="46elks", kind="dlr", event_key="d1",
        body="id=s4f00d1234&status=delivered",
    )  # fmt: skip
    log = ProviderLog.objects.create(
        tenant=tenant_a, account=account, method="POST", url="http://sandbox/a1/sms", status=200,
        response_body='{"id": "s4f00d1234"}',
    )  # fmt: skip
    ProviderLog.objects.create(
        tenant=tenant_a, account=account, method="GET", url="http://sandbox/a1/me", status=200
    )

    page = login(member_a).get(reverse("message", args=[tenant_a.slug, message.pk])).content.decode()

    assert reverse("webhook-event", args=[tenant_a.slug, hook.pk]) in page
    assert reverse("provider-log", args=[tenant_a.slug, log.pk]) in page
    assert page.count("HTTP exchange</small>") == 1


def test_the_first_page_of_messages_follows_new_rows_and_older_pages_hold_still(login, member_a, tenant_a):
    for _ in range(3):
        f.message(tenant_a)
    client = login(member_a)
    url = reverse("messages", args=[tenant_a.slug])

    first = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    newest = f.message(tenant_a, body="just arrived")
    again = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    older = client.get(url, {"before": "MjAwMC0wMS0wMVQwMDowMDowMCswMDowMHwx"}).content.decode()

    assert 'hx-trigger="every 10s"' in first and "<html" not in first
    assert f'data-row-id="{newest.pk}"' in again and "just arrived" in again
    assert 'id="message-rows"' in older and "hx-trigger" not in older


def test_the_notifications_page_follows_new_notifications(login, viewer_a, tenant_a):
    from billing.models import Notification

    client = login(viewer_a)
    url = reverse("notifications", args=[tenant_a.slug])
    assert 'hx-trigger="every 15s"' in client.get(url).content.decode()
    Notification.objects.create(tenant=tenant_a, kind="low_balance", key="x", period="p", title="Balance low")

    fragment = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="notification-list").content.decode()

    assert "Balance low" in fragment and "<html" not in fragment
