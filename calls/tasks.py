"""Celery tasks of the calls app: thin wrappers over services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from accounts.rls import cross_tenant_task, runs_in_tenant_of
from providers.adapters.errors import ProviderError, RateLimited, Unavailable

from . import services
from .models import Call, Recording

FETCH_MAX_RETRIES = 8  # 1, 2, 4 … 60 minutes apart: about 4 hours, well inside the 72 hours
# The sweeper's bounds: only recordings the provider still keeps (the shortest keeps 72 hours), whose
# own retry chain is over (no write for longer than its longest backoff), a few times more.
SWEEP_MAX_AGE = timedelta(hours=72)
SWEEP_QUIET_FOR = timedelta(minutes=90)
SWEEP_MAX_ATTEMPTS = 12
SWEEP_BATCH = 500


def fetch_backoff(retries: int, error: Exception) -> int:
    """Seconds before the next attempt: exponential, capped at an hour, and never sooner
    than a rate limit asks."""
    delay = min(60 * 2**retries, 3600)
    retry_after = getattr(error, "retry_after", None)
    return max(delay, int(retry_after or 0))


@shared_task(bind=True, max_retries=FETCH_MAX_RETRIES, acks_late=True)
@runs_in_tenant_of(recording_id=Recording)
def fetch_recording(self, recording_id: int) -> dict[str, Any]:
    recording = (
        Recording.objects.select_related("provider_account", "subaccount").filter(pk=recording_id).first()
    )
    if recording is None or recording.fetch_status == Recording.FetchStatus.FETCHED:
        return {"recording": recording_id, "status": "skipped"}
    try:
        services.fetch_recording(recording)
    except (Unavailable, RateLimited) as exc:
        final = self.request.retries >= self.max_retries
        services.record_fetch_failure(recording_id, exc.message, final=final)
        if final:
            return {"recording": recording_id, "status": "failed"}
        raise self.retry(exc=exc, countdown=fetch_backoff(self.request.retries, exc)) from None
    except ProviderError as exc:
        # Rejected (gone, e.g. past the provider's retention), auth or unsupported: retrying won't help.
        services.record_fetch_failure(recording_id, exc.message, final=True)
        return {"recording": recording_id, "status": "failed"}
    return {"recording": recording_id, "status": "fetched"}


# Routed to the "send" queue (calls.tasks.place_*). Redelivery after a killed worker is safe:
# services.dial marks an interrupted attempt `unknown` instead of dialling again.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
@runs_in_tenant_of(call_id=Call)
def place_call_task(self, call_id: int) -> dict[str, Any]:
    outcome = services.dial(call_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.as_dict()


@shared_task(acks_late=True)
@cross_tenant_task("the sweeper of every tenant's queued and placing calls")
def sweep_calls() -> dict[str, int]:
    """Beat: re-enqueue queued calls whose task was lost; calls stuck in `placing` get their
    kept answer written or become unknown (services.sweep_calls)."""
    touched = services.sweep_calls()
    return {key: len(ids) for key, ids in touched.items()}


@shared_task
@cross_tenant_task("a sweep over every tenant's unfetched recordings")
def sweep_recording_fetches() -> dict[str, Any]:
    """Beat, hourly: fetch again the recordings left `failed` or `pending` (a lost task, a
    provider outage longer than the retries) while the provider still has the audio."""
    now = timezone.now()
    # cross-tenant: a sweep over every tenant's unfetched recordings.
    ids = list(
        Recording.objects.filter(
            Q(fetch_status=Recording.FetchStatus.FAILED) | Q(fetch_status=Recording.FetchStatus.PENDING),
            created_at__gte=now - SWEEP_MAX_AGE,
            updated_at__lt=now - SWEEP_QUIET_FOR,
            fetch_attempts__lt=SWEEP_MAX_ATTEMPTS,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for recording_id in ids:
        fetch_recording.delay(recording_id)
    return {"enqueued": len(ids)}
