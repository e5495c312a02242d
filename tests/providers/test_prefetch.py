"""The sync's pipeline: pages fetched and parsed ahead of the writer, handed out in order."""

from __future__ import annotations

import threading

import pytest

from providers.adapters.errors import Unavailable
from providers.adapters.records import Page, RawPage
from providers.prefetch import Prefetcher


def history(pages: int, fetched: list[str | None], parse=lambda rows: [r.upper() for r in rows]):
    def fetch(cursor: str | None) -> RawPage:
        fetched.append(cursor)
        n = int(cursor or 0)
        return RawPage([f"row-{n}"], parse, str(n + 1), n + 1 >= pages)

    return fetch


def test_pages_come_out_parsed_and_in_order():
    fetched: list[str | None] = []

    with Prefetcher(history(5, fetched), None, parse=RawPage.parse) as pages:
        got = [(page.items, page.cursor, page.done) for page in pages]

    assert got == [([f"ROW-{n}"], str(n + 1), n == 4) for n in range(5)]
    assert fetched == [None, "1", "2", "3", "4"]


def test_the_next_page_is_requested_while_one_is_parsed():
    second_requested = threading.Event()
    fetched: list[str | None] = []

    def parse(rows: list[str]) -> list[str]:
        if rows == ["row-0"]:
            # Without the parse stage this fetch would only start after this parse returned.
            assert second_requested.wait(timeout=10)
        return rows

    fetch = history(3, fetched, parse)

    def fetch_and_tell(cursor: str | None) -> RawPage:
        if cursor == "1":
            second_requested.set()
        return fetch(cursor)

    with Prefetcher(fetch_and_tell, None, parse=RawPage.parse) as pages:
        assert [page.items for page in pages] == [["row-0"], ["row-1"], ["row-2"]]


def test_a_parse_error_is_raised_in_its_pages_place():
    def parse(rows: list[str]) -> list[str]:
        if rows == ["row-2"]:
            raise Unavailable("Malformed response from Fake: bad timestamp", request_sent=True)
        return rows

    handed_out = []
    with pytest.raises(Unavailable), Prefetcher(history(5, [], parse), None, parse=RawPage.parse) as pages:
        for page in pages:
            handed_out.append(page.items)

    assert handed_out == [["row-0"], ["row-1"]]


def test_a_fetch_error_is_raised_after_the_pages_before_it():
    def fetch(cursor: str | None) -> RawPage:
        if cursor == "2":
            raise Unavailable("down", request_sent=True)
        return history(5, [])(cursor)

    handed_out = []
    with pytest.raises(Unavailable), Prefetcher(fetch, None, parse=RawPage.parse) as pages:
        for page in pages:
            handed_out.append(page.items)

    assert handed_out == [["ROW-0"], ["ROW-1"]]


def test_leaving_early_stops_fetching():
    fetched: list[str | None] = []

    with Prefetcher(history(1000, fetched), None, parse=RawPage.parse) as pages:
        next(pages)

    assert len(fetched) <= 6  # the page handed out, and at most two queued and two in hand


def test_without_a_parse_step_pages_pass_through():
    def fetch(cursor: str | None) -> Page:
        n = int(cursor or 0)
        return Page([n], str(n + 1), n == 2)

    with Prefetcher(fetch, None) as pages:
        assert [page.items for page in pages] == [[0], [1], [2]]
