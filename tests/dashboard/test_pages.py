"""Behaviour of the dashboard pages: roles, forms, keyset pages, htmx fragments, time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import ApiKey
from billing.models import BillingSettings, DailyUsage, Notification
from messaging.models import Message
from providers.models import ProviderAccount, SyncRun
from tests.api import factories as f

pytestmark = pytest.mark.django_db

# Writes a viewer may not make: (url name, needs an object of tenant A).
VIEWER_FORBIDDEN_WRITES = [
    ("provider-connect", None),
    ("provider-test", f.root_account),
    ("provider-sync", f.root_account),
    ("provider-edit", f.root_account),
    ("provider-enable", f.root_account),
    ("provider-disable", f.root_account),
    ("provider-delete", f.root_account),
    ("subaccount-create", f.root_account),
    ("subaccount-edit", f.subaccount),
    ("compose", None),
    ("compose-estimate", None),
    ("bulk-send", None),
    ("place-call", None),
    ("number", f.phone_number),
    ("number-release", f.phone_number),
    ("number-allocate", None),
    ("billing-settings", None),
    ("api-key-create", None),
    ("api-key-revoke", f.FACTORIES[f.ApiKey]),
    ("member-add", None),
    ("member-role", lambda t: t.memberships.get(role="viewer")),
    ("member-remove", lambda t: t.memberships.get(role="viewer")),
]


@pytest.mark.parametrize(
    ("name", "make"), VIEWER_FORBIDDEN_WRITES, ids=[w[0] for w in VIEWER_FORBIDDEN_WRITES]
)
def test_viewer_gets_403_on_writes(name, make, login, viewer_a, tenant_a):
    args = [tenant_a.slug] + ([make(tenant_a).pk] if make else [])
    assert login(viewer_a).post(reverse(name, args=args), {}).status_code == 403


def test_viewer_nav_hides_compose_and_connect(login, viewer_a, tenant_a):
    page = login(viewer_a).get(reverse("messages", args=[tenant_a.slug])).content.decode()
    assert reverse("compose", args=[tenant_a.slug]) not in page
    assert reverse("provider-connect", args=[tenant_a.slug]) not in page


def test_member_nav_offers_compose(login, member_a, tenant_a):
    page = login(member_a).get(reverse("messages", args=[tenant_a.slug])).content.decode()
    assert reverse("compose", args=[tenant_a.slug]) in page


# -- provider accounts -------------------------------------------------------------------------
def test_connect_requires_the_providers_credential_shape(login, owner_a, tenant_a):
    response = login(owner_a).post(
        reverse("provider-connect", args=[tenant_a.slug]),
        {"provider": "callr", "name": "Callr", "login": "me", "password": ""},
    )
    assert response.status_code == 400
    assert "Callr credentials need {api_key} or {login, password}" in response.content.decode()
    assert not ProviderAccount.objects.for_tenant(tenant_a).exists()


def test_connect_never_echoes_a_secret_back(login, owner_a, tenant_a):
    response = login(owner_a).post(
        reverse("provider-connect", args=[tenant_a.slug]),
        {"provider": "jambonz", "name": "j", "api_key": "top-secret-key", "account_sid": "sid"},
    )
    assert response.status_code == 400  # jambonz needs its base URL
    assert "top-secret-key" not in response.content.decode()


def test_connect_stores_encrypted_credentials_and_opens_the_account(login, owner_a, tenant_a):
    response = login(owner_a).post(
        reverse("provider-connect", args=[tenant_a.slug]),
        {"provider": "46elks", "name": "Elks", "username": "u1", "password": "pw-not-shown-1"},
    )
    account = ProviderAccount.objects.for_tenant(tenant_a).get()
    assert response["Location"] == reverse("provider-account", args=[tenant_a.slug, account.pk])
    assert account.credentials == {"username": "u1", "password": "pw-not-shown-1"}
    assert "pw-not-shown-1" not in login(owner_a).get(response["Location"]).content.decode()


def test_test_credentials_answers_an_htmx_fragment(login, owner_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    response = login(owner_a).post(
        reverse("provider-test", args=[tenant_a.slug, account.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "Credentials work" in html


def test_sync_now_queues_a_dashboard_run_and_opens_its_page(login, owner_a, tenant_a):
    account = f.root_account(tenant_a)
    response = login(owner_a).post(reverse("provider-sync", args=[tenant_a.slug, account.pk]))
    run = SyncRun.objects.for_tenant(tenant_a).get()
    assert run.trigger == SyncRun.Trigger.DASHBOARD
    assert response["Location"] == reverse("sync-run", args=[tenant_a.slug, run.pk])


def test_sync_run_fragment_polls_until_finished(login, member_a, tenant_a):
    run = SyncRun.objects.create(tenant=tenant_a, account=f.root_account(tenant_a), status="running")
    client = login(member_a)
    url = reverse("sync-run", args=[tenant_a.slug, run.pk])
    running = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in running and "<html" not in running
    run.status = SyncRun.Status.SUCCEEDED
    run.resources = {"messages": {"status": "succeeded", "pages": 3, "fetched": 120, "created": 118}}
    run.save()
    finished = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in finished
    assert "118" in finished


# -- messages ------------------------------------------------------------------------------------
def test_message_list_pages_by_keyset_without_counting(login, member_a, tenant_a):
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    for i in range(51):
        f.message(tenant_a, created_at=start + timedelta(minutes=i))
    client = login(member_a)
    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("messages", args=[tenant_a.slug]))
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(first.context["page"].items) == 50
    assert first.context["page"].items[0].created_at == start + timedelta(minutes=50)
    older = client.get(
        reverse("messages", args=[tenant_a.slug]), {"before": first.context["page"].next_cursor}
    )
    assert [m.created_at for m in older.context["page"].items] == [start]
    assert older.context["page"].next_cursor is None


def test_message_times_are_shown_in_the_tenants_zone(login, member_a, tenant_a):
    m = f.message(tenant_a, created_at=datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
    page = login(member_a).get(reverse("message", args=[tenant_a.slug, m.pk])).content.decode()
    assert "2026-01-10 13:00:00" in page  # Europe/Stockholm is UTC+1 in January


def test_message_filters_by_direction_and_date_range(login, member_a, tenant_a):
    day = datetime(2026, 1, 10, 12, tzinfo=UTC)
    inbound = f.message(tenant_a, direction="inbound", status="received", created_at=day)
    f.message(tenant_a, direction="outbound", created_at=day)
    f.message(tenant_a, direction="inbound", status="received", created_at=day - timedelta(days=3))
    response = login(member_a).get(
        reverse("messages", args=[tenant_a.slug]),
        {"direction": "inbound", "since": "2026-01-10", "until": "2026-01-10"},
    )
    assert response.context["page"].items == [inbound]


def test_export_streams_the_filtered_list_as_csv(login, member_a, tenant_a):
    f.message(tenant_a, body="first", direction="inbound", status="received")
    f.message(tenant_a, body="second")
    response = login(member_a).get(reverse("messages-export", args=[tenant_a.slug]), {"direction": "inbound"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("id,created_at,direction")
    assert len(lines) == 2 and "first" in lines[1]


def test_media_that_is_not_an_image_downloads_instead_of_rendering(login, member_a, tenant_a):
    media = f.media(tenant_a, content=b"<script>alert(1)</script>")
    media.content_type = "text/html"
    media.save()
    response = login(member_a).get(reverse("message-media", args=[tenant_a.slug, media.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_recording_not_fetched_yet_is_404(login, member_a, tenant_a):
    recording = f.recording(tenant_a)
    assert (
        login(member_a).get(reverse("recording-audio", args=[tenant_a.slug, recording.pk])).status_code == 404
    )


def test_compose_queues_one_message_through_the_service(login, member_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    response = login(member_a).post(
        reverse("compose", args=[tenant_a.slug]),
        {"account": account.pk, "from_number": "Acme", "to": "+46701234567", "body": "Hello", "key": "k1"},
    )
    message = Message.objects.for_tenant(tenant_a).get()
    assert response["Location"] == reverse("message", args=[tenant_a.slug, message.pk])
    assert (message.status, message.to_number, message.body) == ("queued", "+46701234567", "Hello")


def test_compose_resubmitted_sends_once(login, member_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    data = {"account": account.pk, "from_number": "Acme", "to": "+46701234567", "body": "Hi", "key": "same"}
    client = login(member_a)
    client.post(reverse("compose", args=[tenant_a.slug]), data)
    client.post(reverse("compose", args=[tenant_a.slug]), data)
    assert Message.objects.for_tenant(tenant_a).count() == 1


def test_compose_shows_the_services_errors_under_the_field(login, member_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    response = login(member_a).post(
        reverse("compose", args=[tenant_a.slug]),
        {"account": account.pk, "from_number": "Acme", "to": "not-a-number", "body": "Hi", "key": "k"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["to"]
    assert not Message.objects.for_tenant(tenant_a).exists()


def test_compose_to_several_numbers_makes_a_bulk_send(login, member_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    response = login(member_a).post(
        reverse("compose", args=[tenant_a.slug]),
        {"account": account.pk, "from_number": "Acme", "to": "+46701234567, +46701234568", "body": "Hi"},
    )
    assert Message.objects.for_tenant(tenant_a).count() == 2
    assert "/messages/bulk/" in response["Location"]


def test_bulk_progress_polls_while_messages_are_pending(login, member_a, tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    client = login(member_a)
    client.post(
        reverse("bulk-send", args=[tenant_a.slug]),
        {
            "account": account.pk,
            "from_number": "Acme",
            "body": "Sale!",
            "file": _upload("to\n+46701234567\nnope\n+46701234568\n"),
            "confirm": "1",
        },
    )
    from messaging.models import BulkSend

    bulk = BulkSend.objects.for_tenant(tenant_a).get()
    html = client.get(reverse("bulk-progress", args=[tenant_a.slug, bulk.pk]), HTTP_HX_REQUEST="true").content
    assert b'hx-trigger="every 2s"' in html
    Message.objects.for_tenant(tenant_a).update(status="delivered")
    html = client.get(reverse("bulk-progress", args=[tenant_a.slug, bulk.pk]), HTTP_HX_REQUEST="true").content
    assert b"hx-trigger" not in html and b"final counts" in html
    assert bulk.invalid_rows[0]["line"] == 3


def _upload(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("r.csv", text.encode(), content_type="text/csv")


# -- billing and settings -------------------------------------------------------------------------
def test_overview_chart_data_comes_from_the_rollups(login, member_a, tenant_a):
    account = f.root_account(tenant_a)
    today = date.today()
    for kind, count in (("sms", 4), ("mms", 1), ("call", 2)):
        DailyUsage.objects.create(
            tenant=tenant_a, provider_account=account, kind=kind, direction="outbound", day=today,
            currency="SEK", count=count,
        )  # fmt: skip
    data = login(member_a).get(reverse("usage-daily", args=[tenant_a.slug]), {"days": 30}).json()
    series = {d["label"]: d["data"] for d in data["datasets"]}
    assert len(data["labels"]) == 30
    assert (series["Messages"][-1], series["Calls"][-1]) == (5, 2)


def test_billing_settings_validate_a_cap_needs_its_currency(login, owner_a, tenant_a):
    response = login(owner_a).post(
        reverse("billing-settings", args=[tenant_a.slug]), {"monthly_spend_cap": "100", "markup_percent": "0"}
    )
    assert response.status_code == 400
    assert "A spend cap needs its currency." in response.content.decode()
    assert not BillingSettings.objects.filter(tenant=tenant_a).exists()


def test_billing_settings_saved_by_an_owner(login, owner_a, tenant_a):
    login(owner_a).post(
        reverse("billing-settings", args=[tenant_a.slug]),
        {"monthly_spend_cap": "100", "spend_cap_currency": "sek", "markup_percent": "12.5"},
    )
    saved = BillingSettings.objects.get(tenant=tenant_a)
    assert (saved.spend_cap_currency, str(saved.markup_percent)) == ("SEK", "12.50")


def test_notification_marked_read_by_htmx(login, member_a, tenant_a):
    note = Notification.objects.create(tenant=tenant_a, kind="low_balance", key="a", period="p", title="Low")
    response = login(member_a).post(
        reverse("notification-read", args=[tenant_a.slug, note.pk]), HTTP_HX_REQUEST="true"
    )
    note.refresh_from_db()
    assert note.read_at is not None
    assert b"Mark read" not in response.content


def test_statement_csv_streams_the_month(login, member_a, tenant_a):
    response = login(member_a).get(reverse("statement-csv", args=[tenant_a.slug]), {"month": "2026-01"})
    assert response["Content-Disposition"] == 'attachment; filename="statement-tenant-a-2026-01.csv"'
    assert b"".join(response.streaming_content).startswith(b"month,provider_account")


def test_api_key_secret_is_shown_once(login, owner_a, tenant_a):
    client = login(owner_a)
    created = client.post(
        reverse("api-key-create", args=[tenant_a.slug]), {"name": "CRM", "scopes": ["read"]}
    )
    secret = created.context["secret"]
    key = ApiKey.objects.for_tenant(tenant_a).get()
    assert secret.startswith("sbk_") and secret in created.content.decode()
    assert key.scopes == ["read"]
    assert secret not in client.get(reverse("api-keys", args=[tenant_a.slug])).content.decode()


def test_api_key_needs_a_scope(login, owner_a, tenant_a):
    response = login(owner_a).post(reverse("api-key-create", args=[tenant_a.slug]), {"name": "CRM"})
    assert response.status_code == 400
    assert not ApiKey.objects.for_tenant(tenant_a).exists()
