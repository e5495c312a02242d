"""Replies from a conversation stay in the conversation; viewers see why they cannot send
instead of a form that answers 403; the pages that follow a status say so in their markup."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from messaging.models import Message
from numbers.models import PhoneNumber
from tests.api import factories as f

pytestmark = pytest.mark.django_db

OURS, THEM = "+46766860001", "+46701234567"


def thread_url(tenant, ours=OURS, them=THEM) -> str:
    return reverse("thread", args=[tenant.slug]) + "?" + urlencode({"ours": ours, "them": them})


@pytest.fixture
def conversation(tenant_a, sandbox_account):
    account = sandbox_account(tenant_a, "46elks")
    PhoneNumber.objects.create(
        tenant=tenant_a, number=OURS, provider_account=account, remote_id="n-ours", capabilities=["sms"]
    )
    f.message(
        tenant_a, direction="inbound", status="received", from_number=THEM, to_number=OURS, body="Open?"
    )
    Message.objects.for_tenant(tenant_a).update(provider_account=account)
    return account


def test_a_reply_is_queued_and_the_user_stays_in_the_thread(login, member_a, tenant_a, conversation):
    url = thread_url(tenant_a)

    response = login(member_a).post(url, {"body": "Yes, until six", "key": "r1"})

    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == url
    reply = Message.objects.for_tenant(tenant_a).get(body="Yes, until six")
    assert (reply.from_number, reply.to_number, reply.status) == (OURS, THEM, "queued")


def test_a_refused_reply_shows_the_reason_in_the_thread_and_keeps_the_text(
    login, member_a, tenant_a, conversation
):
    response = login(member_a).post(thread_url(tenant_a), {"body": "", "key": "r2"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "Open?" in page  # still the conversation
    assert 'id="reply-form"' in page


def test_a_reply_resubmitted_is_sent_once(login, member_a, tenant_a, conversation):
    client = login(member_a)
    for _ in range(2):
        client.post(thread_url(tenant_a), {"body": "Only once", "key": "same-key"})

    assert Message.objects.for_tenant(tenant_a).filter(body="Only once").count() == 1


def test_viewer_sees_the_thread_without_a_reply_box(login, viewer_a, tenant_a, conversation):
    page = login(viewer_a).get(thread_url(tenant_a)).content.decode()

    assert "Open?" in page
    assert 'id="reply-form"' not in page and "does not send messages" in page


def test_viewer_reply_is_refused_with_an_explanation(login, viewer_a, tenant_a, conversation):
    response = login(viewer_a).post(thread_url(tenant_a), {"body": "sneaky", "key": "v"})

    assert response.status_code == 403
    assert "viewers can read everything but not send" in response.content.decode()
    assert not Message.objects.for_tenant(tenant_a).filter(body="sneaky").exists()


@pytest.mark.parametrize("name", ["compose", "bulk-send", "place-call"])
def test_viewer_gets_a_notice_instead_of_a_send_form(login, viewer_a, tenant_a, name):
    response = login(viewer_a).get(reverse(name, args=[tenant_a.slug]))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="cannot-send"' in page and 'type="submit">Send' not in page
    assert "<textarea" not in page


def test_thread_fragment_polls_for_new_messages(login, member_a, tenant_a, conversation):
    html = login(member_a).get(thread_url(tenant_a), HTTP_HX_REQUEST="true").content.decode()

    assert 'id="chat"' in html and 'hx-trigger="every 5s"' in html and "<html" not in html


def test_message_detail_polls_until_the_status_is_final(login, member_a, tenant_a):
    message = f.message(tenant_a, status="queued")
    client = login(member_a)
    url = reverse("message", args=[tenant_a.slug, message.pk])

    assert 'hx-trigger="every 3s"' in client.get(url).content.decode()
    Message.objects.filter(pk=message.pk).update(status="delivered")
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert "Delivered" in fragment and "hx-trigger" not in fragment


def test_call_detail_polls_until_the_call_has_ended(login, member_a, tenant_a):
    call = f.call(tenant_a, state="ringing")
    client = login(member_a)
    url = reverse("call", args=[tenant_a.slug, call.pk])

    assert 'hx-trigger="every 3s"' in client.get(url).content.decode()
    type(call).objects.filter(pk=call.pk).update(state="completed")
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert "Completed" in fragment and "hx-trigger" not in fragment


def test_call_actions_read_as_steps_not_python_data(login, member_a, tenant_a):
    call = f.call(tenant_a, actions=[{"connect": "+46701111111", "result": "success"}])

    page = login(member_a).get(reverse("call", args=[tenant_a.slug, call.pk])).content.decode()

    assert "Connect to <code>+46701111111</code>" in page
    assert "{&#x27;connect&#x27;" not in page and "{'connect'" not in page


def test_released_number_offers_no_provider_update(login, owner_a, tenant_a):
    number = f.phone_number(tenant_a)
    number.active = False
    number.save()

    page = login(owner_a).get(reverse("number", args=[tenant_a.slug, number.pk])).content.decode()

    assert "Update at the provider" not in page and "Released" in page


def test_member_removal_asks_for_confirmation(login, owner_a, member_a, tenant_a):
    page = login(owner_a).get(reverse("members", args=[tenant_a.slug])).content.decode()

    assert 'data-confirm="Remove member@a.test' in page


def test_audit_log_page_lists_changes_for_owners(login, owner_a, tenant_a):
    from accounts import audit

    audit.record(tenant_a, owner_a, "number.update", None, fields=["name"])

    page = login(owner_a).get(reverse("audit-log", args=[tenant_a.slug])).content.decode()

    assert "number.update" in page and "owner@a.test" in page


def test_audit_log_is_not_for_viewers(login, viewer_a, tenant_a):
    assert login(viewer_a).get(reverse("audit-log", args=[tenant_a.slug])).status_code == 403


def test_tenant_switcher_keeps_the_section(client, owner_a, tenant_a, tenant_b):
    from accounts.models import Membership, Role

    Membership.objects.create(tenant=tenant_b, user=owner_a, role=Role.OWNER)
    client.force_login(owner_a)

    page = client.get(reverse("calls", args=[tenant_a.slug])).content.decode()

    assert f'<option value="{reverse("calls", args=[tenant_b.slug])}"' in page


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_money_shows_its_currency(login, member_a, tenant_a):
    f.message(tenant_a, body="priced", cost="0.3500", currency="SEK")

    page = login(member_a).get(reverse("messages", args=[tenant_a.slug])).content.decode()

    assert "0.35 SEK" in page


def test_search_finds_messages_calls_and_numbers_by_number(login, member_a, tenant_a):
    f.message(tenant_a, to_number="+46735550001", body="about the parcel")
    f.call(tenant_a, to_number="+46735550001")

    page = login(member_a).get(reverse("search", args=[tenant_a.slug]), {"q": "+4673555"}).content.decode()

    assert "about the parcel" in page
    assert page.count("+46735550001") >= 2


def test_contact_timeline_mixes_messages_and_calls(login, member_a, tenant_a):
    f.message(tenant_a, to_number="+46735550002", body="see you")
    f.call(tenant_a, to_number="+46735550002", duration=61)
    f.message(tenant_a, to_number="+46735550003", body="someone else")

    page = login(member_a).get(reverse("contact", args=[tenant_a.slug]), {"number": "+46735550002"})

    html = page.content.decode()
    assert "see you" in html and "61 s" in html and "someone else" not in html
    assert html.count('<span class="kind">') == 2


# jambonz keeps no SMS history to sync (its messages arrive by webhook only).
@pytest.mark.parametrize("provider", ["sipcentric", "46elks", "callr"])
def test_a_synced_sandbox_conversation_can_be_answered(login, member_a, tenant_a, sandbox_account, provider):
    from providers.models import SyncRun
    from providers.sync import run_sync

    account = sandbox_account(tenant_a, provider, seed=3, size=60)
    run_sync(SyncRun.objects.create(tenant=tenant_a, account=account, trigger=SyncRun.Trigger.COMMAND))
    held = set(PhoneNumber.objects.for_tenant(tenant_a).values_list("number", flat=True))
    inbound = (
        Message.objects.for_tenant(tenant_a)
        .filter(direction="inbound", to_number__in=held, from_number__startswith="+")
        .order_by("-created_at")
        .first()
    )
    assert inbound is not None, f"the {provider} sandbox history has no inbound SMS to one of our numbers"
    url = thread_url(tenant_a, ours=inbound.to_number, them=inbound.from_number)

    response = login(member_a).post(url, {"body": "Thanks for your message", "key": f"reply-{provider}"})

    assert response.status_code == 302, response.context["form"].errors
    assert Message.objects.for_tenant(tenant_a).filter(
        body="Thanks for your message", to_number=inbound.from_number
    ).exists()


def _csv(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("r.csv", text.encode(), content_type="text/csv")


def test_bulk_send_previews_before_anything_is_sent(login, member_a, tenant_a, sandbox_account):
    from messaging.models import BulkSend

    account = sandbox_account(tenant_a, "46elks")
    fields = {"account": account.pk, "from_number": "Acme", "body": "Sale today"}

    response = login(member_a).post(
        reverse("bulk-send", args=[tenant_a.slug]),
        {**fields, "file": _csv("to\n+46701234567\n+46701234567\nnope\n+46701234568\n")},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="preview-recipients">2<' in page and 'id="preview-skipped">2<' in page
    assert "Duplicate recipient." in page and "1 part" in page
    assert not BulkSend.objects.for_tenant(tenant_a).exists() and not Message.objects.exists()
    token = response.context["token"]

    confirmed = login(member_a).post(
        reverse("bulk-send", args=[tenant_a.slug]), {**fields, "preview_token": token, "confirm": "1"}
    )

    bulk = BulkSend.objects.for_tenant(tenant_a).get()
    assert confirmed["Location"] == reverse("bulk-progress", args=[tenant_a.slug, bulk.pk])
    assert bulk.queued == 2 and len(bulk.invalid_rows) == 2


def test_a_bulk_preview_belongs_to_the_user_who_uploaded_it(
    login, member_a, owner_a, tenant_a, sandbox_account
):
    account = sandbox_account(tenant_a, "46elks")
    fields = {"account": account.pk, "from_number": "Acme", "body": "Sale"}
    token = login(member_a).post(
        reverse("bulk-send", args=[tenant_a.slug]), {**fields, "file": _csv("+46701234567\n")}
    ).context["token"]

    response = login(owner_a).post(
        reverse("bulk-send", args=[tenant_a.slug]), {**fields, "preview_token": token, "confirm": "1"}
    )

    assert response.status_code == 400 and response.context["form"].errors["file"]
