"""A synced page's new media reach the broker as one message, fanned out by the worker."""

from __future__ import annotations

from messaging import importers, tasks


def test_a_page_of_media_is_one_broker_message(monkeypatch):
    batches, singles = [], []
    monkeypatch.setattr(tasks.fetch_media_batch, "delay", batches.append)
    monkeypatch.setattr(tasks.fetch_media, "delay", singles.append)

    importers._enqueue_media_fetches([11, 12, 13])

    assert (batches, singles) == ([[11, 12, 13]], [])


def test_the_batch_task_enqueues_one_fetch_per_item(monkeypatch):
    singles: list[int] = []
    monkeypatch.setattr(tasks.fetch_media, "delay", singles.append)

    assert tasks.fetch_media_batch([11, 12, 13]) == {"enqueued": 3}

    assert singles == [11, 12, 13]
