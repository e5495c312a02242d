"""The API docs page works in real Chromium under our Content-Security-Policy."""

from __future__ import annotations

import tempfile

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Tenant, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            headless=False,  # --headless=new comes from the args
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()


@pytest.fixture
def reader(db):
    user = User.objects.create_user("docs@switchboard.local", "docs-pw")
    tenant = Tenant.objects.create(name="Docs", slug="docs", timezone="UTC", default_currency="SEK")
    Membership.objects.create(tenant=tenant, user=user, role=Role.VIEWER)
    return user


def test_the_docs_render_without_a_csp_violation(live_server, reader, page):
    violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "docs@switchboard.local")
    page.fill("#id_password", "docs-pw")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(live_server.url + "/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock")  # operations listed: the schema loaded
    assert violations == []
