"""Read state of a notification is shared by the tenant: only roles and keys that may
write (send and up) change it; a viewer or a read-only key gets a 403 and nothing moves."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(tenant_a):
    return Notification.objects.create(tenant=tenant_a, kind="low_balance", key="k", period="p", title="Low")


def test_viewer_cannot_mark_a_notification_read(login, viewer_a, tenant_a, note):
    response = login(viewer_a).post(reverse("notification-read", args=[tenant_a.slug, note.pk]))
    note.refresh_from_db()
    assert (response.status_code, note.read_at) == (403, None)


def test_viewer_cannot_mark_all_notifications_read(login, viewer_a, tenant_a, note):
    response = login(viewer_a).post(reverse("notifications-read-all", args=[tenant_a.slug]))
    note.refresh_from_db()
    assert (response.status_code, note.read_at) == (403, None)


def test_viewer_sees_no_mark_read_button(login, viewer_a, tenant_a, note):
    page = login(viewer_a).get(reverse("notifications", args=[tenant_a.slug])).content.decode()
    assert "Low" in page and "Mark read" not in page and "Mark all read" not in page


def test_read_key_cannot_mark_a_notification_read(api, key_with_scopes, note):
    response = api(key_with_scopes("read")).post(f"/api/v1/notifications/{note.pk}/read/")
    note.refresh_from_db()
    assert (response.status_code, note.read_at) == (403, None)
    assert response.json()["error"]["code"] == "permission_denied"


def test_send_key_marks_a_notification_read(api, key_with_scopes, note):
    response = api(key_with_scopes("read", "send")).post(f"/api/v1/notifications/{note.pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
