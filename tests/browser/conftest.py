"""The dashboard in real Chromium (Playwright, Debian's /usr/bin/chromium) against the live
server, the in-process provider sandbox and — where a status must change on screen — a
real Celery worker on Redis.

Every page opened through `open_page` records console errors, uncaught page errors and
responses >= 500; `assert_clean(page)` fails on any. Screenshots land in
var/test-artifacts/browser/ (kept after the run).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "browser"
AXE = Path(__file__).parent / "assets" / "axe-4.14.1.min.js"
PASSWORD = "pw"  # tests/conftest.py's users


@dataclass
class Problems:
    console: list[str] = field(default_factory=list)
    server: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def all(self) -> list[str]:
        found = self.console + self.server
        return [p for p in found if not any(a.search(p) for a in self.allowed)]


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module. Playwright's sync API keeps an event loop in this
    thread while it runs; the tests still use the ORM between browser steps, which Django
    refuses near a running loop unless told otherwise (only for these modules)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(chromium):
    """open_page(width=1366, scheme="light") -> a Page in a fresh context, with `.problems`."""
    contexts = []

    def make(width: int = 1366, height: int = 900, scheme: str = "light"):
        context = chromium.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme, locale="en-GB"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems = Problems()
        page.on(
            "console",
            lambda m: problems.console.append(f"console {m.type}: {m.text} @ {page.url}")
            if m.type == "error"
            else None,
        )
        page.on("pageerror", lambda e: problems.console.append(f"page error: {e} @ {page.url}"))
        page.on(
            "response",
            lambda r: problems.server.append(f"HTTP {r.status} {r.request.method} {r.url}")
            if r.status >= 500
            else None,
        )
        page.problems = problems
        return page

    yield make
    for context in contexts:
        context.close()


def assert_clean(page) -> None:
    problems = page.problems.all()
    assert problems == [], "\n".join(problems)


def allow(page, pattern: str) -> None:
    """An expected console line (e.g. the 400 of a form submitted with errors)."""
    page.problems.allowed.append(re.compile(pattern))


def settle(page) -> None:
    """Wait until the page's charts have drawn (or said they could not)."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-chart-url]')].every(c => c.dataset.chartReady)"
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + reverse("login"))
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/t/.*|.*/$"))


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run the vendored axe-core on the page: the violations of these impacts."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def page_overflows(page) -> int:
    """How many pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


# -- a tenant with a synced sandbox history -----------------------------------------------------
@dataclass
class Seeded:
    tenant: object
    account: object
    objects: dict


@pytest.fixture
def seeded(tenant_a, owner_a, member_a, viewer_a, sandbox, sandbox_account, settings):
    """Tenant A with a synced 46elks sandbox account plus one of every object a page shows."""
    from django.core.files.base import ContentFile

    from accounts import audit
    from billing.models import Notification
    from messaging.models import BulkSend, Message, MessageMedia
    from numbers.models import PhoneNumber
    from providers.models import ProviderLog, SyncRun, WebhookEvent
    from providers.sync import run_sync
    from sandbox.elks46 import tiny_png
    from tests.api import factories as f

    settings.SANDBOX_URL = "http://sandbox"
    account = sandbox_account(tenant_a, "46elks", seed=5, size=30)
    run = run_sync(SyncRun.objects.create(tenant=tenant_a, account=account, trigger=SyncRun.Trigger.COMMAND))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error

    inbound = Message.objects.for_tenant(tenant_a).filter(direction="inbound").order_by("-created_at").first()
    message = Message.objects.for_tenant(tenant_a).order_by("-created_at").first()
    mms = f.message(tenant_a, kind="mms", body="Picture")  # through the root account: the sandbox one
    media = MessageMedia(tenant=tenant_a, message=mms, remote_id="pic1", content_type="image/png")
    media.file.save("pic1.png", ContentFile(tiny_png("pic1")), save=False)
    media.fetch_status = MessageMedia.FetchStatus.FETCHED
    media.save()
    call = f.call(
        tenant_a,
        actions=[{"connect": "+46701111111", "result": "success"}],
        cost=Decimal("1.25"),
    )
    number = PhoneNumber.objects.for_tenant(tenant_a).filter(provider_account=account).first()
    subaccount = account.subaccounts.first()
    bulk = BulkSend.objects.create(
        tenant=tenant_a, account=account, from_number="Acme", body="Sale", idempotency_key="b1", total=1
    )
    event = WebhookEvent.objects.create(
        tenant=tenant_a, account=account, provider="46elks", kind="sms", event_key="e1", body="from=x"
    )
    log = ProviderLog.objects.for_tenant(tenant_a).first() or ProviderLog.objects.create(
        tenant=tenant_a, account=account, method="GET", url="http://sandbox/a1/me", status=200
    )
    Notification.objects.create(
        tenant=tenant_a, kind="spend_cap", key="n1", period="2026-11", title="80% of the spend cap used"
    )
    audit.record(tenant_a, owner_a, "number.update", number, fields=["name"])
    objects = {
        "message": message,
        "inbound": inbound,
        "mms": mms,
        "call": call,
        "number": number,
        "subaccount": subaccount,
        "bulk": bulk,
        "run": run,
        "event": event,
        "log": log,
    }
    return Seeded(tenant_a, account, objects)


def page_urls(seeded: Seeded) -> list[tuple[str, str]]:
    """Every dashboard page of the tenant: (name, path)."""
    slug, o = seeded.tenant.slug, seeded.objects
    inbound = o["inbound"]
    thread = reverse("thread", args=[slug]) + f"?ours={inbound.to_number}&them={inbound.from_number}".replace(
        "+", "%2B"
    )
    pages = [
        ("overview", reverse("tenant-home", args=[slug])),
        ("messages", reverse("messages", args=[slug])),
        ("message", reverse("message", args=[slug, o["message"].pk])),
        ("message-mms", reverse("message", args=[slug, o["mms"].pk])),
        ("conversations", reverse("conversations", args=[slug])),
        ("thread", thread),
        ("compose", reverse("compose", args=[slug])),
        ("bulk-send", reverse("bulk-send", args=[slug])),
        ("bulk-progress", reverse("bulk-progress", args=[slug, o["bulk"].pk])),
        ("calls", reverse("calls", args=[slug])),
        ("call", reverse("call", args=[slug, o["call"].pk])),
        ("recordings", reverse("recordings", args=[slug])),
        ("place-call", reverse("place-call", args=[slug])),
        ("numbers", reverse("numbers", args=[slug])),
        ("number", reverse("number", args=[slug, o["number"].pk])),
        ("providers", reverse("provider-accounts", args=[slug])),
        ("provider", reverse("provider-account", args=[slug, seeded.account.pk])),
        ("sync-runs", reverse("sync-runs", args=[slug])),
        ("sync-run", reverse("sync-run", args=[slug, o["run"].pk])),
        ("http-log", reverse("provider-logs", args=[slug])),
        ("http-log-entry", reverse("provider-log", args=[slug, o["log"].pk])),
        ("webhooks", reverse("webhook-events", args=[slug])),
        ("webhook", reverse("webhook-event", args=[slug, o["event"].pk])),
        ("usage", reverse("usage", args=[slug])),
        ("statement", reverse("statement", args=[slug])),
        ("notifications", reverse("notifications", args=[slug])),
        ("billing-settings", reverse("billing-settings", args=[slug])),
        ("search", reverse("search", args=[slug]) + "?q=%2B46"),
        ("contact", reverse("contact", args=[slug]) + "?number=" + inbound.from_number.replace("+", "%2B")),
        ("api-keys", reverse("api-keys", args=[slug])),
        ("members", reverse("members", args=[slug])),
    ]
    if o["subaccount"] is not None:
        pages.append(("subaccount", reverse("provider-account", args=[slug, o["subaccount"].pk])))
    return pages


# Pages only owners and admins open (a viewer or member gets the "your role" page).
MANAGE_PAGES = {
    "provider-connect": lambda slug, s: reverse("provider-connect", args=[slug]),
    "provider-edit": lambda slug, s: reverse("provider-edit", args=[slug, s.account.pk]),
    "provider-delete": lambda slug, s: reverse("provider-delete", args=[slug, s.account.pk]),
    "audit-log": lambda slug, s: reverse("audit-log", args=[slug]),
    "number-allocate": lambda slug, s: reverse("number-allocate", args=[slug]),
}
