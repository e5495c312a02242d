"""The dashboard on a 360 px phone and in the dark: no page is wider than the screen
(tables scroll inside their card), the navigation opens from a menu button, and the theme
follows the system until the user picks one, which then sticks."""

from __future__ import annotations

import pytest

from .conftest import assert_clean, axe_violations, log_in, page_overflows, page_urls, settle, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_PAGES = {
    "overview", "messages", "message", "thread", "compose", "calls", "call", "numbers", "number",
    "providers", "provider", "sync-run", "http-log", "usage", "statement", "billing-settings",
    "members", "api-keys", "search",
}  # fmt: skip


def background_luminance(page) -> float:
    rgb = page.evaluate(
        "getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def test_every_main_page_fits_a_360_px_screen(live_server, seeded, open_page):
    page = open_page(width=360, height=740)
    log_in(page, live_server.url, "owner@a.test")

    wide = {}
    for name, path in page_urls(seeded):
        if name not in PHONE_PAGES:
            continue
        page.goto(live_server.url + path)
        if overflow := page_overflows(page):
            wide[name] = overflow
        if name in ("overview", "messages", "message", "thread", "call", "provider"):
            shot(page, f"phone-{name}")

    assert wide == {}
    assert_clean(page)


def test_the_navigation_opens_from_the_menu_button_on_a_phone(live_server, seeded, open_page):
    page = open_page(width=360, height=740)
    log_in(page, live_server.url, "owner@a.test")
    page.goto(live_server.url + page_urls(seeded)[0][1])
    toggle = page.locator("[data-menu-toggle]")

    assert page.locator("nav.tenant-nav").is_hidden()
    toggle.click()

    assert toggle.get_attribute("aria-expanded") == "true"
    page.locator("nav.tenant-nav >> text=Calls").click()
    page.wait_for_url("**/calls/")
    shot(page, "phone-calls")
    assert_clean(page)


DARK_PAGES = {"overview", "messages", "message", "thread", "compose", "call", "provider", "billing-settings"}


def test_dark_theme_follows_the_system_and_stays_readable(live_server, seeded, open_page):
    page = open_page(scheme="dark")
    log_in(page, live_server.url, "owner@a.test")

    unreadable = {}
    for name, path in page_urls(seeded):
        if name not in DARK_PAGES:
            continue
        page.goto(live_server.url + path)
        settle(page)
        assert background_luminance(page) < 0.2, name
        shot(page, f"dark-{name}")
        if found := axe_violations(page):
            unreadable[name] = [(v["id"], v["nodes"]) for v in found]
    assert unreadable == {}
    assert_clean(page)


def test_the_theme_toggle_is_remembered_across_pages(live_server, seeded, open_page):
    page = open_page(scheme="light")
    log_in(page, live_server.url, "owner@a.test")
    overview = live_server.url + page_urls(seeded)[0][1]
    page.goto(overview)
    assert background_luminance(page) > 0.8

    page.click("[data-theme-toggle]")

    assert background_luminance(page) < 0.2
    assert page.get_attribute("[data-theme-toggle]", "aria-pressed") == "true"
    page.goto(live_server.url + page_urls(seeded)[1][1])
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert background_luminance(page) < 0.2
    page.click("[data-theme-toggle]")
    assert background_luminance(page) > 0.8
    assert_clean(page)


def test_keyboard_focus_is_visible_and_skips_to_the_content(live_server, seeded, open_page):
    page = open_page()
    log_in(page, live_server.url, "owner@a.test")
    page.goto(live_server.url + page_urls(seeded)[1][1])

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(3):
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", page.evaluate("document.activeElement.outerHTML")
    assert_clean(page)
