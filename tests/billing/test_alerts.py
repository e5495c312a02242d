import pytest
from django.core import mail

from billing.alerts import notify
from billing.models import Notification
from billing.tasks import email_notification

pytestmark = pytest.mark.django_db


def test_a_threshold_fires_once_per_period(tenant_a):
    assert notify(tenant_a, "spend_cap", "80", "2026-11", "80%") is not None
    assert notify(tenant_a, "spend_cap", "80", "2026-11", "80%") is None
    assert notify(tenant_a, "spend_cap", "80", "2026-12", "80%") is not None
    assert Notification.objects.for_tenant(tenant_a).count() == 2


def test_alert_email_goes_to_owners_and_admins_only(tenant_a, owner_a, member_a, viewer_a):
    note = Notification.objects.create(tenant=tenant_a, kind="k", key="1", period="p", title="Low balance")
    email_notification(note.pk)
    assert [m.to for m in mail.outbox] == [[owner_a.email]]
    note.refresh_from_db()
    assert note.emailed_at is not None


def test_alert_email_is_sent_once(tenant_a, owner_a):
    note = Notification.objects.create(tenant=tenant_a, kind="k", key="1", period="p", title="t")
    email_notification(note.pk)
    email_notification(note.pk)
    assert len(mail.outbox) == 1
