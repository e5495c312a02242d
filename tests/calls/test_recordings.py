"""Recordings: linked to their call set-based, fetched into storage right after commit."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from calls import services, tasks
from calls.importers import upsert_calls, upsert_recordings
from calls.models import Recording
from providers.adapters.errors import Rejected, Unavailable
from providers.ingest import UpsertResult

from .factories import call, recording

AUDIO = b"RIFF" + bytes(range(256)) * 1000


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.fetch_recording, "delay", sent.append)
    return sent


class FakeAdapter:
    def __init__(self, chunks=None, error: Exception | None = None):
        self.chunks = chunks or [AUDIO[:100_000], AUDIO[100_000:]]
        self.error = error
        self.failures = 10**6  # how many downloads raise `error`
        self.asked: list[str] = []

    def download_recording(self, remote):
        self.asked.append(remote.remote_id)
        if self.error and len(self.asked) <= self.failures:
            raise self.error
        yield from self.chunks


@pytest.fixture
def adapter(monkeypatch) -> FakeAdapter:
    fake = FakeAdapter()

    @contextmanager
    def open_adapter(account):
        yield fake

    monkeypatch.setattr(services, "open_adapter", open_adapter)
    return fake


def test_recording_is_linked_to_its_call(account_a):
    upsert_calls(account_a, [call(1), call(2)])

    upsert_recordings(account_a, [recording(1), recording(2)])

    assert dict(Recording.objects.values_list("remote_id", "call__remote_id")) == {
        "c1-r1": "c1",
        "c2-r1": "c2",
    }


def test_recording_that_arrives_before_its_call_is_linked_when_the_call_arrives(account_a):
    upsert_recordings(account_a, [recording(1)])
    assert Recording.objects.get().call is None

    upsert_calls(account_a, [call(1)])

    assert Recording.objects.get().call.remote_id == "c1"


def test_rerun_creates_no_duplicates(account_a):
    records = [recording(i) for i in range(5)]
    upsert_recordings(account_a, records)

    assert upsert_recordings(account_a, records) == UpsertResult(created=0, updated=5)
    assert Recording.objects.count() == 5


def test_new_recordings_are_fetched_after_commit(account_a, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upsert_recordings(account_a, [recording(1), recording(2)])

    assert sorted(enqueued) == sorted(Recording.objects.values_list("id", flat=True))


def test_known_recordings_are_not_fetched_again(account_a, enqueued, django_capture_on_commit_callbacks):
    upsert_recordings(account_a, [recording(1)])

    with django_capture_on_commit_callbacks(execute=True):
        upsert_recordings(account_a, [recording(1)])

    assert enqueued == []


def test_a_page_is_written_with_a_bounded_number_of_queries(account_a, django_assert_max_num_queries):
    upsert_calls(account_a, [call(i) for i in range(200)])

    with django_assert_max_num_queries(4):
        upsert_recordings(account_a, [recording(i) for i in range(200)])

    assert Recording.objects.filter(call__isnull=False).count() == 200


def test_fetch_streams_the_audio_into_storage_under_the_tenant(account_a, adapter, media_root):
    upsert_recordings(account_a, [recording(1)])
    rec = Recording.objects.get()

    assert tasks.fetch_recording.apply(args=[rec.pk]).get() == {"recording": rec.pk, "status": "fetched"}

    rec.refresh_from_db()
    assert (rec.fetch_status, rec.size, rec.fetch_attempts) == ("fetched", len(AUDIO), 1)
    assert rec.file.name == f"recordings/{account_a.tenant_id}/c1-r1.wav"
    assert (media_root / rec.file.name).read_bytes() == AUDIO


def test_a_fetched_recording_keeps_its_size_when_listed_again(account_a, adapter):
    upsert_recordings(account_a, [recording(1)])
    tasks.fetch_recording.apply(args=[Recording.objects.get().pk])

    upsert_recordings(account_a, [recording(1, size=5)])

    assert Recording.objects.get().size == len(AUDIO)


def test_transient_failure_is_recorded_and_retried_with_backoff(account_a, adapter):
    adapter.error = Unavailable("The provider did not answer in time.")
    upsert_recordings(account_a, [recording(1)])
    rec = Recording.objects.get()

    result = tasks.fetch_recording.apply(args=[rec.pk])

    rec.refresh_from_db()
    assert result.get() == {"recording": rec.pk, "status": "failed"}  # eager: every retry ran
    assert rec.fetch_attempts == tasks.FETCH_MAX_RETRIES + 1
    assert (rec.fetch_status, rec.fetch_error) == ("failed", "The provider did not answer in time.")
    assert not rec.file


def test_a_fetch_that_fails_once_succeeds_on_retry(account_a, adapter):
    adapter.error, adapter.failures = Unavailable("The connection to the provider was dropped."), 1
    upsert_recordings(account_a, [recording(1)])
    rec = Recording.objects.get()

    tasks.fetch_recording.apply(args=[rec.pk])

    rec.refresh_from_db()
    assert (rec.fetch_status, rec.fetch_attempts, rec.fetch_error, rec.size) == ("fetched", 2, "", len(AUDIO))


def test_a_recording_gone_at_the_provider_fails_without_retrying(account_a, adapter):
    adapter.error = Rejected("Not found.", status=404)
    upsert_recordings(account_a, [recording(1)])
    rec = Recording.objects.get()

    tasks.fetch_recording.apply(args=[rec.pk])

    rec.refresh_from_db()
    assert (rec.fetch_status, rec.fetch_attempts, adapter.asked) == ("failed", 1, ["c1-r1"])


def test_backoff_grows_and_respects_retry_after():
    assert [tasks.fetch_backoff(n, Exception()) for n in (0, 1, 2, 10)] == [60, 120, 240, 3600]
    assert tasks.fetch_backoff(0, Unavailable("x")) == 60
