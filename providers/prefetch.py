"""Fetch the next page of a history while the current one is written.

A sync used to fetch a page, write it, then fetch the next: the provider's latency and the
database's write time added up. `Prefetcher` runs the fetches on one background thread,
at most `depth` pages ahead (default one), so a sync runs at the speed of the slower of
the two. The consumer still commits each page with its cursor, in order, on its own
thread and connection: the fetching thread never touches the database (the HTTP log
entries it produces are handed over and written by the consumer), so a crash resumes from
the last committed page exactly as before, with at most `depth` pages fetched twice.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .adapters.records import Page

Fetch = Callable[[str | None], Page]


@dataclass
class _Failed:
    error: BaseException


_DONE = object()


class Prefetcher:
    """Iterate the pages from `cursor` on, fetched ahead on a thread:

        with Prefetcher(fetch, cursor) as pages:
            for page in pages:
                write(page)      # the next page is being fetched meanwhile

    A fetch error is raised by the iteration in the page's place (after every page before
    it was handed out). Leaving the block early stops the thread."""

    def __init__(self, fetch: Fetch, cursor: str | None, depth: int = 1):
        self._fetch = fetch
        self._cursor = cursor
        self._pages: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-prefetch", daemon=True)

    def __enter__(self) -> Iterator[Page]:
        self._thread.start()
        return self._iterate()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a put() waiting for room
            try:
                self._pages.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        cursor = self._cursor
        while not self._stop.is_set():
            try:
                page = self._fetch(cursor)
            except BaseException as exc:  # handed to the consumer, raised there
                self._put(_Failed(exc))
                return
            if not self._put(page) or page.done:
                break
            cursor = page.cursor
        self._put(_DONE)

    def _iterate(self) -> Iterator[Page]:
        while True:
            item = self._pages.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
            if item.done:
                return
