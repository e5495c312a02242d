"""The dashboard in real Chromium (Playwright) against the live server: log in, switch
tenant, read messages, count SMS parts while typing, connect a sandbox account and watch
its first sync finish, see the overview chart."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Tenant, User

from .conftest import assert_clean, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def page(open_page):
    # The shared session browser (tests/browser/conftest.py): two Playwright instances
    # cannot run in one thread.
    return open_page(width=1360, height=900)


@pytest.fixture
def demo_user(db):
    """Like the demo: one operator owning two tenants."""
    user = User.objects.create_user("demo@switchboard.local", "demo-pw", name="Demo Operator")
    for slug, name in (("acme", "Acme Telecom"), ("globex", "Globex Retail")):
        tenant = Tenant.objects.create(
            name=name, slug=slug, timezone="Europe/Stockholm", default_currency="SEK"
        )
        Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def eager_celery(monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def sandbox_url(settings):
    # The in-process sandbox answers at http://sandbox: the base URL guard lets it through.
    settings.SANDBOX_URL = "http://sandbox"


def _shot(page, name: str) -> None:
    shot(page, f"day-{name}")


def test_a_day_in_the_dashboard(live_server, demo_user, sandbox, sandbox_url, eager_celery, page):
    # `page` comes last: Playwright runs an event loop, after which the ORM refuses this thread.
    sandbox.add_account("46elks", {"username": "sbx-browser", "password": "pw-browser"}, seed=7, size=40)

    # Nothing the pages do may be refused by the Content-Security-Policy.
    violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))

    # Log in; with two tenants the switcher asks which one.
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "demo@switchboard.local")
    page.fill("#id_password", "demo-pw")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Choose a tenant")
    page.select_option("#tenant-switcher", label="Globex Retail")
    page.wait_for_url("**/t/globex/")
    page.select_option("#tenant-switcher", label="Acme Telecom")
    page.wait_for_url("**/t/acme/")
    assert page.locator("h1").first.inner_text() == "Acme Telecom"
    page.wait_for_selector("text=No provider accounts yet")

    # Connect a sandbox 46elks account; only its credential fields are shown.
    page.click("text=Connect a provider account")
    page.select_option("#id_provider", "46elks")
    assert page.is_hidden("#id_api_key") and page.is_visible("#id_username")
    page.fill("#id_name", "Elks sandbox")
    page.fill("#id_base_url", "http://sandbox/46elks/a1")
    page.fill("#id_username", "sbx-browser")
    page.fill("#id_password", "pw-browser")
    page.click("#connect-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Elks sandbox')")
    page.click("text=Test credentials")
    page.wait_for_selector("#credential-check:has-text('Credentials work')")

    # Sync now: the run page shows per-resource progress until the run has finished.
    page.click("button:has-text('Sync now')")
    page.wait_for_selector("#sync-run[data-status=succeeded]")
    assert page.locator("#sync-run tbody tr").count() == 5
    assert "hx-trigger" not in page.inner_html("main")

    # Messages from the sync, newest first.
    page.click("nav.tenant-nav >> text=Messages")
    page.wait_for_selector("table.list tbody tr")
    assert page.locator("table.list tbody tr").count() > 0
    _shot(page, "messages")

    # Compose: the part counter follows the text as it is typed.
    page.click("nav.subnav >> text=Compose")
    page.type("#id_body", "Hello")
    assert page.inner_text("#sms-counter").startswith("5 characters · 1 part · GSM-7")
    page.fill("#id_body", "x" * 161)
    page.dispatch_event("#id_body", "input")
    assert "2 parts" in page.inner_text("#sms-counter")
    page.fill("#id_body", "Hej 👋")
    page.dispatch_event("#id_body", "input")
    assert "UCS-2" in page.inner_text("#sms-counter")

    # The overview draws its 30-day chart from the rollups.
    page.click("nav.tenant-nav >> text=Overview")
    page.wait_for_selector("#traffic-chart[data-chart-ready='1']")
    box = page.locator("#traffic-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    _shot(page, "overview")
    assert_clean(page)
    assert violations == []  # no Content-Security-Policy refusal on any page of the day


def test_connect_edit_and_disable_an_account(live_server, demo_user, sandbox, sandbox_url, page):
    sandbox.add_account("46elks", {"username": "sbx-edit", "password": "pw-edit"}, seed=3, size=5)
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "demo@switchboard.local")
    page.fill("#id_password", "demo-pw")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Choose a tenant")
    page.goto(live_server.url + reverse("provider-connect", args=["acme"]))

    page.select_option("#id_provider", "46elks")
    page.fill("#id_name", "Elks to edit")
    page.fill("#id_base_url", "http://sandbox/46elks/a1")
    page.fill("#id_username", "sbx-edit")
    page.fill("#id_password", "pw-edit")
    page.click("#connect-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Elks to edit')")

    # Edit: a new name and interval; the credential fields start empty and stay so.
    page.click("a.button:has-text('Edit')")
    assert page.input_value("#id_password") == ""
    page.fill("#id_name", "Elks renamed")
    page.fill("#id_sync_interval", "45")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Elks renamed')")
    assert "every 45 min" in page.inner_text("main")

    # Disable: the badge says so, Enable replaces Disable and Sync now is gone.
    page.once("dialog", lambda dialog: dialog.accept())  # "Disable …? Syncs and sends stop"
    page.click("button:has-text('Disable')")
    page.wait_for_selector(".badge.a-disabled")
    assert page.is_visible("button:has-text('Enable')")
    assert page.locator("button:has-text('Sync now')").count() == 0
    page.click("nav.subnav >> text=Accounts")
    row = page.locator("table tbody tr", has_text="Elks renamed")
    assert row.locator(".badge").inner_text() == "Disabled"
    _shot(page, "account-disabled")
    assert_clean(page)
