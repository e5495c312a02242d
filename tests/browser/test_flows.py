"""The main tasks of the dashboard done in Chromium: filters with their defaults and with
values, every settings form with valid input, and — with a real Celery worker on Redis and
the sandbox sending delivery reports — a message, a reply and a bulk send whose statuses
change on screen without a reload."""

from __future__ import annotations

import re

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from accounts.models import Membership, Role
from config.celery import app
from numbers.models import PhoneNumber

from .conftest import allow, assert_clean, log_in, page_overflows, page_urls, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def url(live_server, name, *args) -> str:
    return live_server.url + reverse(name, args=list(args))


def test_list_filters_work_with_defaults_and_with_values(live_server, seeded, open_page):
    slug = seeded.tenant.slug
    page = open_page()
    log_in(page, live_server.url, "member@a.test")

    # Messages: Filter with everything at "Any" lists everything; then one direction.
    page.goto(url(live_server, "messages", slug))
    assert page.locator("#message-filters select[name=status] option").first.inner_text() == "Any"
    everything = page.locator("table.list tbody tr").count()
    page.click("#message-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*status=.*"))
    assert "Select a valid choice" not in page.inner_text("main")
    assert page.locator("table.list tbody tr").count() == everything > 0
    page.select_option("#message-filters select[name=direction]", "inbound")
    page.click("#message-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*direction=inbound.*"))
    directions = page.locator("table.list tbody tr td:nth-child(2) .visually-hidden").all_inner_texts()
    assert directions and set(directions) == {"Inbound"}
    page.fill("#message-filters input[name=q]", "meeting")
    page.click("#message-filters button[type=submit]")
    page.wait_for_selector("#search-window")

    # Calls: state at "Any", then a state.
    page.goto(url(live_server, "calls", slug))
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*state=.*"))
    assert page.locator("table.list tbody tr").count() > 0
    page.select_option("form.filters select[name=state]", "completed")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*state=completed.*"))
    assert set(page.locator("table.list tbody .badge").all_inner_texts()) == {"✓ Completed"} or set(
        page.locator("table.list tbody .badge").all_inner_texts()
    ) == {"Completed"}

    # The other lists' filters, submitted as they come.
    for name in ("numbers", "provider-logs", "webhook-events", "usage"):
        page.goto(url(live_server, name, slug))
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("h1").count() == 1, name

    # Conversations: the period select submits itself.
    page.goto(url(live_server, "conversations", slug))
    page.select_option("select[name=days]", "90")
    page.wait_for_url(re.compile(r".*days=90.*"))

    # The search box in the top bar.
    page.fill("#global-search", "+4670")
    page.press("#global-search", "Enter")
    page.wait_for_url(re.compile(r".*/search/\?q=.*"))
    assert page.locator("#search-messages").count() == 1
    shot(page, "flow-search")
    assert_clean(page)


def test_settings_forms_with_valid_input(live_server, seeded, open_page, tenant_b):
    slug = seeded.tenant.slug
    page = open_page()
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server.url, "owner@a.test")

    page.goto(url(live_server, "billing-settings", slug))
    page.fill("#id_monthly_spend_cap", "100")
    page.select_option("#id_spend_cap_currency", "SEK")
    page.fill("#id_low_balance_threshold", "25")
    page.click("#billing-settings-form button[type=submit]")
    page.wait_for_selector(".flash:has-text('Billing settings saved.')")

    page.goto(url(live_server, "api-keys", slug))
    page.fill("#id_name", "CRM sync")
    page.click("main form[action$='/api-keys/new/'] button[type=submit]")
    page.wait_for_selector("#new-secret")
    assert page.input_value("#new-secret").startswith("sbk_")

    page.goto(url(live_server, "members", slug))
    page.fill("#id_email", "new.person@a.test")
    page.select_option("#id_role", "viewer")
    page.click("#member-add button[type=submit]")
    page.wait_for_selector(".flash:has-text('Added new.person@a.test')")
    page.click("tr[data-member='new.person@a.test'] button:has-text('Remove')")  # confirmed
    page.wait_for_selector(".flash:has-text('Removed new.person@a.test')")

    number = seeded.objects["number"]
    page.goto(url(live_server, "number", slug, number.pk))
    page.fill("#id_name", "Support line")
    page.click("button[name=note]")
    page.wait_for_selector(".flash:has-text('Saved.')")
    assert PhoneNumber.objects.get(pk=number.pk).name == "Support line"

    page.goto(url(live_server, "audit-log", slug))
    page.select_option("select[name=action]", "billing_settings.update")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("td:has-text('billing_settings.update')")

    # Connect submitted as it comes: the form explains, nothing breaks.
    allow(page, r"status of 400")
    page.goto(url(live_server, "provider-connect", slug))
    page.select_option("#id_provider", "callr")
    assert page.is_visible("[data-hint-for=callr]")
    page.click("#connect-form button[type=submit]")
    page.wait_for_selector("#connect-form .error")

    # The tenant switcher lands on the same section of the other tenant.
    owner = seeded.tenant.memberships.get(role="owner").user
    Membership.objects.create(tenant=tenant_b, user=owner, role=Role.OWNER)
    page.goto(url(live_server, "calls", slug))
    assert page_overflows(page) == 0  # the top bar with a switcher still fits 1366 px
    page.select_option("#tenant-switcher", label="Tenant B")
    page.wait_for_url(f"**/t/{tenant_b.slug}/calls/")
    assert_clean(page)


@pytest.fixture
def worker(transactional_db):
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["send", "hooks", "default"]) as w:
        yield w


def wait_for_text(page, selector: str, pattern: str, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "([sel, pat]) => { const el = document.querySelector(sel);"
        " return el && new RegExp(pat).test(el.textContent); }",
        arg=[selector, pattern],
        timeout=timeout,
    )


def test_statuses_change_on_screen_without_a_reload(
    live_server, seeded, sandbox, deliver_webhooks, worker, open_page
):
    slug = seeded.tenant.slug
    account = seeded.account
    ours = PhoneNumber.objects.for_tenant(seeded.tenant).filter(provider_account=account).first().number
    page = open_page()
    log_in(page, live_server.url, "member@a.test")

    # Compose: the message page follows the send and then the delivery report.
    page.goto(url(live_server, "compose", slug))
    page.select_option("#id_account", str(account.pk))
    page.fill("#id_from_number", ours)
    page.fill("#id_to", "+46701234567")
    page.fill("#id_body", "Your order shipped")
    page.click("#compose-form button:has-text('Estimate price')")
    page.wait_for_selector("#estimate:has-text('per recipient')")
    page.click("#compose-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/messages/\d+/$"))
    page.evaluate("window.__noReload = true")
    wait_for_text(page, "#message-status", "Sending|Sent")
    deliver_webhooks()
    wait_for_text(page, "#message-status", "Delivered")
    assert page.evaluate("window.__noReload") is True
    assert page.get_attribute("#message-live", "hx-trigger") is None  # final: polling stopped
    # The "updated" mark is set once htmx has settled the swap, a moment after the new text shows.
    page.wait_for_selector("#message-live[data-updated]", state="attached", timeout=5_000)
    shot(page, "flow-message-delivered")

    # A placed call: its page follows it to the end.
    page.goto(url(live_server, "place-call", slug))
    page.select_option("#id_account", str(account.pk))
    page.fill("#id_from_number", ours)
    page.fill("#id_to_number", "+46701234567")
    page.fill("#id_connect_to", "+46701111111")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/calls/\d+/$"))
    page.evaluate("window.__noReload = true")
    for _ in range(40):
        deliver_webhooks()
        if page.get_attribute("#call-live", "hx-trigger") is None:
            break
        page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('#call-live').hasAttribute('hx-trigger')")
    assert page.inner_text("#call-state") not in ("Queued", "… Queued")
    assert page.evaluate("window.__noReload") is True
    shot(page, "flow-call-final")

    # A reply from a conversation: the user stays there and sees it arrive.
    thread = next(path for name, path in page_urls(seeded) if name == "thread")
    page.goto(live_server.url + thread)
    page.fill("#reply-form textarea", "Thanks, on my way")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector(".flash:has-text('Reply queued.')")
    assert "/conversations/thread/" in page.url
    page.evaluate("window.__noReload = true")
    deliver_webhooks()
    wait_for_text(page, "#chat .bubble:last-child .status", "Sent|Delivered|Sending")
    assert page.evaluate("window.__noReload") is True

    # Bulk send: progress is followed until every count is final.
    page.goto(url(live_server, "bulk-send", slug))
    page.select_option("#id_account", str(account.pk))
    page.fill("#id_from_number", ours)
    page.fill("#id_body", "Flash sale today")
    page.set_input_files(
        "#id_file",
        files=[{"name": "r.csv", "mimeType": "text/csv", "buffer": b"to\n+46701234501\n+46701234502\nx\n"}],
    )
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector("#bulk-preview")
    assert page.inner_text("#preview-recipients") == "2" and page.inner_text("#preview-skipped") == "1"
    shot(page, "flow-bulk-preview")
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_url(re.compile(r".*/messages/bulk/\d+/$"))
    page.evaluate("window.__noReload = true")
    # Delivery reports come as the sends complete; the page keeps polling until all are in.
    for _ in range(60):
        deliver_webhooks()
        if page.locator("#bulk-progress[data-done='1']").count():
            break
        page.wait_for_timeout(500)
    page.wait_for_selector("#bulk-progress[data-done='1']")
    assert page.inner_text("[data-count=delivered]") == "2"
    assert page.evaluate("window.__noReload") is True
    shot(page, "flow-bulk-final")
    assert_clean(page)


def test_new_rows_appear_in_the_list_and_stand_out(live_server, seeded, open_page, monkeypatch):
    from messaging import views as messaging_views
    from tests.api import factories as f

    monkeypatch.setattr(messaging_views, "LIST_POLL_SECONDS", 1)
    page = open_page()
    log_in(page, live_server.url, "viewer@a.test")
    page.goto(url(live_server, "messages", seeded.tenant.slug))
    page.evaluate("window.__noReload = true")

    arrived = f.message(seeded.tenant, direction="inbound", status="received", body="Are you open today?")

    page.wait_for_selector(f"tr[data-row-id='{arrived.pk}'].just-updated")
    assert page.locator("table.list tbody tr").first.get_attribute("data-row-id") == str(arrived.pk)
    assert page.inner_text("h1 [data-updated-at]").startswith("Updated at")
    assert page.evaluate("window.__noReload") is True
    assert_clean(page)
