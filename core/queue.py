"""Enqueue Celery tasks by name, so the code that queues work never imports the module of
the task that does it (tasks import services; services name tasks). As Zulip's
`queue_json_publish`: the sender knows the queue, not the consumer."""

from __future__ import annotations

from typing import Any

from celery import current_app


def task(name: str) -> Any:
    """The registered task called `name` ("app.tasks.function"), to `.delay()` or
    `.apply_async()`. Routes, eager mode in tests and test doubles apply as for the task
    object itself. Task modules are discovered on first use in a process that has not
    imported them (a web process)."""
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()  # Celery's autodiscovery of <app>.tasks
    return app.tasks[name]
