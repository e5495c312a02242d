"""Every dashboard page in Chromium as owner, member and viewer: it opens (no error page,
no response >= 500, no console error), a screenshot is saved, and the controls a role may
not use are not on the page. Main pages pass axe-core with no serious or critical issue."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.urls import Resolver404, resolve

from .conftest import MANAGE_PAGES, assert_clean, axe_violations, log_in, page_urls, settle, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAILS = {"owner": "owner@a.test", "member": "member@a.test", "viewer": "viewer@a.test"}
# POST forms each role may be offered, by url name; anything else on a page is a control
# the role cannot use and must not see.
EVERYONE_POSTS = {"logout", "notification-read", "notifications-read-all"}
SEND_POSTS = {"compose", "compose-estimate", "thread", "bulk-send", "place-call"}
ALLOWED_POSTS = {
    "viewer": EVERYONE_POSTS,
    "member": EVERYONE_POSTS | SEND_POSTS,
}
AXE_PAGES = {
    "overview", "messages", "message", "thread", "compose", "calls", "call", "numbers", "number",
    "providers", "provider", "usage", "statement", "notifications", "billing-settings", "members",
    "api-keys", "search", "contact", "audit-log", "provider-connect",
}  # fmt: skip


def post_targets(page) -> set[str]:
    """The url names of the POST forms (and htmx posts) on the page."""
    actions = page.eval_on_selector_all(
        "form[method=post], form[method=POST], [hx-post]",
        "els => els.map(e => e.getAttribute('hx-post') || e.getAttribute('action') || location.pathname)",
    )
    return {resolve(urlparse(a).path).url_name for a in actions}


def offered_links(page) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href^='/t/']", "els => els.map(e => e.getAttribute('href'))")
    names = set()
    for href in hrefs:
        try:
            names.add(resolve(urlparse(href).path).url_name)
        except Resolver404:  # not one of ours: report it as it is
            names.add(href)
    return names


@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_every_page_opens_cleanly_and_shows_only_what_the_role_may_do(role, live_server, seeded, open_page):
    page = open_page()
    log_in(page, live_server.url, EMAILS[role])
    pages = page_urls(seeded)
    if role == "owner":
        pages += [(name, make(seeded.tenant.slug, seeded)) for name, make in MANAGE_PAGES.items()]
    serious = {}
    for name, path in pages:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, f"{name}: {response and response.status}"
        assert page.locator("h1").count() >= 1, name
        settle(page)
        if role == "owner" or name in ("overview", "compose", "provider", "number", "billing-settings"):
            shot(page, f"{role}-{name}")
        if role in ALLOWED_POSTS:
            extra = post_targets(page) - ALLOWED_POSTS[role]
            assert extra == set(), f"{role} is offered {extra} on {name}"
            links = offered_links(page)
            assert "provider-connect" not in links and "provider-edit" not in links, name
            if role == "viewer":
                assert not links & {"compose", "bulk-send", "place-call"}, f"{name}: {links}"
        if role == "owner" and name in AXE_PAGES:
            found = axe_violations(page)
            if found:
                serious[name] = found
    assert serious == {}, "\n".join(
        f"{name}: {v['id']} ({v['impact']}) {v['help']} {v['nodes']}"
        for name, violations in serious.items()
        for v in violations
    )
    assert_clean(page)


def test_pages_for_owners_explain_themselves_to_a_viewer(live_server, seeded, open_page):
    page = open_page()
    log_in(page, live_server.url, EMAILS["viewer"])

    for name, make in MANAGE_PAGES.items():
        response = page.goto(live_server.url + make(seeded.tenant.slug, seeded))

        assert response.status == 403, name
        assert page.locator("h1").inner_text() == "Your role can't do that", name
        assert re.search("viewers can read everything", page.inner_text("main")), name
