"""The operators' admin for message history."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from messaging.importers import upsert_messages
from messaging.models import Message, MessageMedia
from providers.adapters.records import MessageKind, RemoteMedia

from .conftest import page, remote

pytestmark = pytest.mark.urls("tests.messaging.admin_urls")


@pytest.fixture
def history(account_a, account_b):
    upsert_messages(account_a, page(5))
    upsert_messages(account_b, page(3, body="=HYPERLINK(1)"))
    upsert_messages(
        account_a, [remote(9, kind=MessageKind.MMS, media=[RemoteMedia("m9-i0", content_type="image/png")])]
    )


def test_changelist_loads_for_staff(login, staff, history, django_assert_max_num_queries):
    client = login(staff)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:messaging_message_changelist"))

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == 9


def test_changelist_filters_and_searches(login, staff, history, tenant_b):
    client = login(staff)
    url = reverse("admin:messaging_message_changelist")

    by_tenant = client.get(url, {"tenant__id__exact": tenant_b.pk, "status__exact": "delivered"})
    by_number = client.get(url, {"q": "+46700000002"})

    assert by_tenant.content.count(b'class="action-select"') == 3
    assert by_number.content.count(b'class="action-select"') == 2  # one per tenant


def test_change_page_loads_with_media(login, staff, history):
    message = Message.objects.get(remote_id="s9")

    response = login(staff).get(reverse("admin:messaging_message_change", args=[message.pk]))

    assert response.status_code == 200
    assert b"m9-i0" in response.content


def test_media_pages_load(login, staff, history):
    client = login(staff)
    media = MessageMedia.objects.get()

    assert client.get(reverse("admin:messaging_messagemedia_changelist")).status_code == 200
    assert client.get(reverse("admin:messaging_messagemedia_change", args=[media.pk])).status_code == 200


def test_only_the_number_link_is_editable(login, staff, history, tenant_a):
    message = Message.objects.for_tenant(tenant_a).get(remote_id="s1")

    response = login(staff).get(reverse("admin:messaging_message_change", args=[message.pk]))

    assert list(response.context["adminform"].form.fields) == ["number"]


def test_export_csv_streams_the_selection(login, staff, history):
    client = login(staff)
    selected = list(Message.objects.values_list("pk", flat=True))

    response = client.post(
        reverse("admin:messaging_message_changelist"),
        {"action": "export_csv", "_selected_action": selected},
    )

    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "tenant", "provider"]
    assert len(rows) == 1 + 9
    assert "'=HYPERLINK(1)" in {row[-1] for row in rows}  # a formula is never exported live


def test_tenant_members_cannot_reach_the_admin(login, owner_a, history):
    response = login(owner_a).get(reverse("admin:messaging_message_changelist"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
