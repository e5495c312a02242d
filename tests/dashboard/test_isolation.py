"""Every dashboard page renders for its tenant's member and is a 404 for another tenant:
generated from the lists below, so a new page is one line here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Tenant, User
from billing.models import BalanceSnapshot, Notification
from messaging.models import BulkSend
from tests.api import factories as f

pytestmark = pytest.mark.django_db

# Pages without an object: (url name, role that may open it).
LIST_PAGES = [
    ("tenant-home", "member"),
    ("usage", "member"),
    ("usage-daily", "member"),
    ("statement", "member"),
    ("statement-csv", "member"),
    ("billing-settings", "member"),
    ("notifications", "member"),
    ("provider-accounts", "member"),
    ("provider-connect", "owner"),
    ("sync-runs", "member"),
    ("provider-logs", "member"),
    ("webhook-events", "member"),
    ("messages", "member"),
    ("messages-export", "member"),
    ("conversations", "member"),
    ("compose", "member"),
    ("bulk-send", "member"),
    ("calls", "member"),
    ("calls-export", "member"),
    ("recordings", "member"),
    ("place-call", "member"),
    ("numbers", "member"),
    ("number-allocate", "owner"),
    ("api-keys", "member"),
    ("members", "member"),
]


def _notification(tenant: Tenant) -> Notification:
    return Notification.objects.create(
        tenant=tenant, kind="spend_cap", key="80", period="2026-01", title="80%"
    )


def _bulk(tenant: Tenant) -> BulkSend:
    return BulkSend.objects.create(
        tenant=tenant, account=f.root_account(tenant), from_number="Acme", body="hi", idempotency_key="k"
    )


def _membership(tenant: Tenant) -> Membership:
    user = User.objects.create_user(f"someone-{tenant.slug}@example.com", "pw")
    return Membership.objects.create(tenant=tenant, user=user, role=Role.MEMBER)


def _balance(tenant: Tenant):
    account = f.root_account(tenant)
    BalanceSnapshot.objects.create(
        tenant=tenant, provider_account=account, amount=10, currency="SEK", taken_at="2026-01-01T00:00Z"
    )
    return account


# Pages of one object: (url name, factory making the object in a tenant).
OBJECT_PAGES: list[tuple[str, Callable[[Tenant], object]]] = [
    ("message", f.message),
    ("message-media", lambda t: f.media(t, content=b"\x89PNG fake")),
    ("bulk-progress", _bulk),
    ("call", f.call),
    ("recording-audio", lambda t: f.recording(t, content=b"ID3 fake")),
    ("number", f.phone_number),
    ("provider-account", f.root_account),
    ("sync-run", f.FACTORIES[f.SyncRun]),
    ("provider-log", f.FACTORIES[f.ProviderLog]),
    ("webhook-event", f.FACTORIES[f.WebhookEvent]),
    ("balance-history", _balance),
]

# Management pages of one object (manage scope): rendered for tenant A's owner.
MANAGE_OBJECT_PAGES: list[tuple[str, Callable[[Tenant], object]]] = [
    ("provider-edit", f.root_account),
    ("provider-delete", f.root_account),
    ("subaccount-create", f.root_account),
    ("subaccount-edit", f.subaccount),
]

# Writes on one object (POST): another tenant's object is a 404 for them too.
OBJECT_WRITES: list[tuple[str, Callable[[Tenant], object]]] = [
    ("provider-test", f.root_account),
    ("provider-sync", f.root_account),
    ("provider-edit", f.root_account),
    ("provider-enable", f.root_account),
    ("provider-disable", f.root_account),
    ("provider-delete", f.root_account),
    ("provider-webhook-secret", f.root_account),
    ("subaccount-create", f.root_account),
    ("subaccount-edit", f.subaccount),
    ("member-role", _membership),
    ("member-remove", _membership),
    ("notification-read", _notification),
    ("api-key-revoke", f.FACTORIES[f.ApiKey]),
    ("number-release", f.phone_number),
]


@pytest.fixture
def users(owner_a, member_a, viewer_a):
    return {"owner": owner_a, "member": member_a, "viewer": viewer_a}


@pytest.mark.parametrize(("name", "role"), LIST_PAGES, ids=[p[0] for p in LIST_PAGES])
def test_list_page_renders_for_its_tenant(name, role, users, client, tenant_a):
    client.force_login(users[role])
    response = client.get(reverse(name, args=[tenant_a.slug]))
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "role"), LIST_PAGES, ids=[p[0] for p in LIST_PAGES])
def test_list_page_of_another_tenant_is_404(name, role, client, tenant_a, user_b):
    client.force_login(user_b)
    assert client.get(reverse(name, args=[tenant_a.slug])).status_code == 404


@pytest.mark.parametrize(("name", "make"), OBJECT_PAGES, ids=[p[0] for p in OBJECT_PAGES])
def test_object_page_renders_for_its_tenant(name, make, client, tenant_a, member_a):
    obj = make(tenant_a)
    client.force_login(member_a)
    assert client.get(reverse(name, args=[tenant_a.slug, obj.pk])).status_code == 200


@pytest.mark.parametrize(("name", "make"), OBJECT_PAGES, ids=[p[0] for p in OBJECT_PAGES])
def test_object_of_another_tenant_is_404_in_their_own_tenant(name, make, client, tenant_a, tenant_b, user_b):
    obj = make(tenant_a)
    f.root_account(tenant_b)  # tenant B has rows of its own
    client.force_login(user_b)
    assert client.get(reverse(name, args=[tenant_b.slug, obj.pk])).status_code == 404


@pytest.mark.parametrize(("name", "make"), MANAGE_OBJECT_PAGES, ids=[p[0] for p in MANAGE_OBJECT_PAGES])
def test_manage_page_renders_for_its_tenants_owner(name, make, client, tenant_a, owner_a):
    obj = make(tenant_a)
    client.force_login(owner_a)
    assert client.get(reverse(name, args=[tenant_a.slug, obj.pk])).status_code == 200


@pytest.mark.parametrize(("name", "make"), MANAGE_OBJECT_PAGES, ids=[p[0] for p in MANAGE_OBJECT_PAGES])
def test_manage_page_of_another_tenants_object_is_404(name, make, client, tenant_a, tenant_b, user_b):
    obj = make(tenant_a)
    client.force_login(user_b)
    assert client.get(reverse(name, args=[tenant_b.slug, obj.pk])).status_code == 404


@pytest.mark.parametrize(("name", "make"), OBJECT_WRITES, ids=[p[0] for p in OBJECT_WRITES])
def test_write_on_another_tenants_object_is_404(name, make, client, tenant_a, tenant_b, user_b):
    obj = make(tenant_a)
    client.force_login(user_b)
    assert client.post(reverse(name, args=[tenant_b.slug, obj.pk])).status_code == 404


def test_export_never_contains_another_tenants_messages(client, tenant_a, tenant_b, user_b):
    f.message(tenant_a, body="secret of A")
    f.message(tenant_b, body="hello from B")
    client.force_login(user_b)
    response = client.get(reverse("messages-export", args=[tenant_b.slug]))
    body = b"".join(response.streaming_content).decode()
    assert "hello from B" in body
    assert "secret of A" not in body


def test_filter_by_another_tenants_account_shows_nothing(client, tenant_a, tenant_b, user_b):
    foreign = f.root_account(tenant_a)
    f.message(tenant_b)
    client.force_login(user_b)
    response = client.get(reverse("messages", args=[tenant_b.slug]), {"provider_account": foreign.pk})
    assert response.status_code == 200
    assert response.context["page"].items == []


def test_thread_of_another_tenant_is_404(client, tenant_a, tenant_b, user_b):
    m = f.message(tenant_a)
    client.force_login(user_b)
    url = reverse("thread", args=[tenant_b.slug])
    assert client.get(url, {"ours": m.from_number, "them": m.to_number}).status_code == 404
