"""Write paths of the calls app outside the importers: copying recordings into storage."""

from __future__ import annotations

import tempfile

from django.core.files import File
from django.db.models import F
from django.utils import timezone

from providers.connect import open_adapter

from .importers import file_extension, remote_recording
from .models import Recording, recording_path

SPOOL_BYTES = 4 * 1024 * 1024  # larger recordings go to a temporary file, never all into memory


def fetch_recording(recording: Recording) -> Recording:
    """Stream the audio from the provider into storage. Raises the adapter's errors; the
    caller records them (see `record_fetch_failure`)."""
    account = recording.subaccount or recording.provider_account
    with open_adapter(account) as adapter, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        size = 0
        for chunk in adapter.download_recording(remote_recording(recording)):
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        old_name = recording.file.name
        name = recording.file.storage.save(
            recording_path(recording, f"{recording.remote_id}{file_extension(recording.content_type)}"),
            File(spool),
        )
    Recording.objects.filter(pk=recording.pk).update(
        file=name,
        size=size,
        fetch_status=Recording.FetchStatus.FETCHED,
        fetch_error="",
        fetch_attempts=F("fetch_attempts") + 1,
        fetched_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if old_name and old_name != name:
        recording.file.storage.delete(old_name)
    recording.refresh_from_db()
    return recording


def record_fetch_failure(recording_id: int, error: str, *, final: bool) -> None:
    """`pending` while retries remain, `failed` once we give up."""
    Recording.objects.filter(pk=recording_id).exclude(fetch_status=Recording.FetchStatus.FETCHED).update(
        fetch_status=Recording.FetchStatus.FAILED if final else Recording.FetchStatus.PENDING,
        fetch_error=error[:1000],
        fetch_attempts=F("fetch_attempts") + 1,
        updated_at=timezone.now(),
    )
