"""Fetch and parse the next pages of a history while the current one is written.

A sync used to fetch a page, write it, then fetch the next: the provider's latency and the
database's write time added up. `Prefetcher` runs the fetches on one background thread,
at most `depth` pages ahead (default one), so a sync runs at the speed of the slower of
the two. With a `parse` step (a RawPage's records, see adapters.records) the records are
parsed on a second thread, so the request for page N+1 is already out (the provider
working on it) while page N is parsed: a rerun over unchanged history, which writes
nothing, waits on the provider and on our parsing at the same time instead of in turn.

The consumer still commits each page with its cursor, in order, on its own thread and
connection: the background threads never touch the database (the HTTP log entries they
produce are handed over and written by the consumer), so a crash resumes from the last
committed page exactly as before, with the pages in flight (at most 2 x `depth` + 2)
fetched twice.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .adapters.records import Page, RawPage

Fetch = Callable[[str | None], Any]  # a Page, or a RawPage when a `parse` step is given


@dataclass
class _Failed:
    error: BaseException


_DONE = object()


class _Stage:
    """Run `produce` on a thread, handing what it yields through a queue of `depth`
    items; an exception is handed over in its place and ends the stage."""

    def __init__(self, produce: Callable[[], Iterable[Any]], depth: int, name: str):
        self._produce = produce
        self._items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        while self._thread.is_alive():  # unblock a put() waiting for room
            try:
                self._items.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._produce():
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failed(exc))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item


class Prefetcher:
    """Iterate the pages from `cursor` on, fetched (and parsed) ahead on threads:

        with Prefetcher(fetch, cursor, parse=RawPage.parse) as pages:
            for page in pages:
                write(page)      # the next pages are being fetched and parsed meanwhile

    A fetch or parse error is raised by the iteration in the page's place (after every
    page before it was handed out). Leaving the block early stops the threads."""

    def __init__(
        self,
        fetch: Fetch,
        cursor: str | None,
        depth: int = 1,
        parse: Callable[[RawPage[Any]], Page[Any]] | None = None,
    ):
        self._fetch = fetch
        self._cursor = cursor
        self._fetched = _Stage(self._fetch_all, depth, "sync-prefetch")
        self._stages = [self._fetched]
        if parse is not None:
            self._stages.append(_Stage(lambda: map(parse, self._fetched), depth, "sync-parse"))

    def __enter__(self) -> Iterator[Page[Any]]:
        for stage in self._stages:
            stage.start()
        return self._iterate()

    def __exit__(self, *exc: object) -> None:
        for stage in reversed(self._stages):
            stage.close()

    def _fetch_all(self) -> Iterator[Any]:
        cursor = self._cursor
        while not self._fetched.stop.is_set():
            page = self._fetch(cursor)
            yield page
            if page.done:
                return
            cursor = page.cursor

    def _iterate(self) -> Iterator[Page[Any]]:
        for page in self._stages[-1]:
            yield page
            if page.done:
                return
