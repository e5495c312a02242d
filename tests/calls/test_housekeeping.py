"""Housekeeping beat tasks: applied webhook events are pruned after the retention; recording
and MMS media fetches left failed or pending are retried while the provider keeps the bytes,
a bounded number of times. (Webhook and media cases live here with the recording sweeper.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from calls import tasks as call_tasks
from calls.importers import upsert_recordings
from calls.models import Recording
from messaging import tasks as messaging_tasks
from messaging.models import MessageMedia
from providers import tasks as provider_tasks
from providers.models import WebhookEvent
from tests.api import factories

from .factories import recording


def ago(**delta) -> timezone.datetime:
    return timezone.now() - timedelta(**delta)


def test_every_housekeeping_task_is_on_the_beat():
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert {
        "providers.tasks.prune_webhook_events",
        "calls.tasks.sweep_recording_fetches",
        "messaging.tasks.sweep_media_fetches",
    } <= scheduled


# -- webhook events -------------------------------------------------------------------------------
@pytest.fixture
def event(tenant_a, account_a):
    counter = iter(range(10_000))

    def make(status: str, days: float) -> WebhookEvent:
        return WebhookEvent.objects.create(
            tenant=tenant_a,
            account=account_a,
            provider="46elks",
            kind="dlr",
            event_key=f"k{next(counter)}",
            status=status,
            received_at=ago(days=days),
        )

    return make


def test_only_settled_events_past_the_retention_are_pruned(event, settings, monkeypatch):
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    monkeypatch.setattr(provider_tasks, "PRUNE_BATCH", 2)
    old = [event("applied", 31), event("applied", 40), event("ignored", 31)]
    kept = [event("applied", 29), event("pending", 60), event("failed", 60)]

    assert provider_tasks.prune_webhook_events() == {"deleted": len(old)}

    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {e.pk for e in kept}


def test_the_webhook_retention_follows_the_setting(event, settings):
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 7
    event("applied", 8)

    assert provider_tasks.prune_webhook_events() == {"deleted": 1}


# -- recordings -----------------------------------------------------------------------------------
@pytest.fixture
def enqueued_recordings(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(call_tasks.fetch_recording, "delay", sent.append)
    return sent


@pytest.fixture
def stored_recording(account_a):
    counter = iter(range(1, 10_000))

    def make(
        status: str, *, created_hours: float = 5, quiet_hours: float = 2, attempts: int = 3
    ) -> Recording:
        i = next(counter)
        upsert_recordings(account_a, [recording(i, created_at=ago(hours=created_hours))])
        Recording.objects.filter(remote_id=f"c{i}-r1").update(
            fetch_status=status, fetch_attempts=attempts, updated_at=ago(hours=quiet_hours)
        )
        return Recording.objects.get(remote_id=f"c{i}-r1")

    return make


@pytest.mark.parametrize(
    ("status", "fields", "swept"),
    [
        ("failed", {}, True),
        ("pending", {}, True),  # its task was lost
        ("fetched", {}, False),
        ("failed", {"created_hours": 73}, False),  # the provider no longer has the audio
        ("pending", {"quiet_hours": 0.5}, False),  # its own retries may still be running
        ("failed", {"attempts": call_tasks.SWEEP_MAX_ATTEMPTS}, False),  # attempts used up
    ],
)
def test_recording_sweeper_retries_only_what_can_still_be_fetched(
    stored_recording, enqueued_recordings, status, fields, swept
):
    rec = stored_recording(status, **fields)

    result = call_tasks.sweep_recording_fetches()

    assert enqueued_recordings == ([rec.pk] if swept else [])
    assert result == {"enqueued": int(swept)}


def test_a_swept_recording_is_fetched_from_the_provider(
    tenant_a, sandbox_account, settings, tmp_path, monkeypatch
):
    from config.celery import app
    from providers.connect import open_adapter

    monkeypatch.setattr(app.conf, "task_always_eager", True)
    settings.MEDIA_ROOT = tmp_path
    account = sandbox_account(tenant_a, "46elks", size=30)
    with open_adapter(account, record=False) as adapter:
        records = adapter.list_recordings(None).items[:1]
    upsert_recordings(account, [r.__class__(**{**r.__dict__, "created_at": ago(hours=5)}) for r in records])
    Recording.objects.update(fetch_status="failed", fetch_attempts=9, updated_at=ago(hours=2))

    call_tasks.sweep_recording_fetches.apply()

    rec = Recording.objects.get()
    assert rec.fetch_status == "fetched" and rec.size and rec.fetch_attempts == 10


# -- MMS media ------------------------------------------------------------------------------------
@pytest.fixture
def enqueued_media(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(messaging_tasks.fetch_media, "delay", sent.append)
    return sent


@pytest.mark.parametrize(
    ("status", "hours", "attempts", "swept"),
    [
        ("failed", 5, 6, True),
        ("pending", 5, 0, True),  # its task was lost
        ("fetched", 5, 1, False),
        ("pending", 1, 0, False),  # its own retries may still be running
        ("failed", 73, 6, False),  # past the providers' retention
        ("failed", 5, messaging_tasks.MEDIA_SWEEP_MAX_ATTEMPTS, False),  # attempts used up
    ],
)
def test_media_sweeper_retries_only_what_can_still_be_fetched(
    tenant_a, enqueued_media, status, hours, attempts, swept
):
    message = factories.message(tenant_a, kind="mms")
    media = MessageMedia.objects.create(
        tenant=tenant_a,
        message=message,
        remote_id="img-1",
        fetch_status=status,
        fetch_attempts=attempts,
        created_at=ago(hours=hours),
    )

    result = messaging_tasks.sweep_media_fetches()

    assert enqueued_media == ([media.pk] if swept else [])
    assert result == {"enqueued": int(swept)}
