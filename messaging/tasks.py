"""Messaging tasks: thin wrappers taking ids; the work lives in importers/services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts.rls import cross_tenant_task, runs_in_tenant_of
from providers.adapters.errors import ProviderError
from providers.models import ProviderAccount

from . import delivery, importers
from .models import Message, MessageMedia

# The media sweeper's bounds: items the providers may still serve, whose own retry chain
# (about 30 minutes) is surely over, a few attempts more.
MEDIA_SWEEP_MAX_AGE = timedelta(hours=72)
MEDIA_SWEEP_AFTER = timedelta(hours=2)
MEDIA_SWEEP_MAX_ATTEMPTS = 10
MEDIA_SWEEP_BATCH = 500


@shared_task(bind=True, max_retries=6, acks_late=True)
@runs_in_tenant_of(media_id=MessageMedia)
def fetch_media(self, media_id: int) -> str:
    """Copy an MMS attachment's bytes into our storage (providers expire them)."""
    try:
        return importers.fetch_media_file(media_id)
    except ProviderError as exc:  # only retryable ones get here
        if self.request.retries >= self.max_retries:
            return importers.mark_media_failed(media_id, exc.message)
        countdown = getattr(exc, "retry_after", None) or min(30 * 2**self.request.retries, 1800)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(acks_late=True)
@cross_tenant_task("fans a synced page's new media out to fetch_media (each runs in its row's tenant)")
def fetch_media_batch(media_ids: list[int]) -> dict:
    """A history page's new media, enqueued by the sync with one message to the broker
    instead of one per item (that was a quarter of a sync's time on MMS-heavy histories)."""
    for media_id in media_ids:
        fetch_media.delay(media_id)
    return {"enqueued": len(media_ids)}


@shared_task
@cross_tenant_task("a sweep over every tenant's unfetched media")
def sweep_media_fetches() -> dict:
    """Beat, hourly: fetch again the MMS media left `failed` or `pending` (a lost task, an
    outage longer than the retries), up to MEDIA_SWEEP_MAX_ATTEMPTS attempts in all."""
    now = timezone.now()
    # cross-tenant: a sweep over every tenant's unfetched media (MessageMedia.created_at is
    # when we stored the row; it has no updated_at, so age stands in for "retries are over").
    ids = list(
        MessageMedia.objects.filter(
            fetch_status__in=[MessageMedia.FetchStatus.FAILED, MessageMedia.FetchStatus.PENDING],
            created_at__gte=now - MEDIA_SWEEP_MAX_AGE,
            created_at__lt=now - MEDIA_SWEEP_AFTER,
            fetch_attempts__lt=MEDIA_SWEEP_MAX_ATTEMPTS,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:MEDIA_SWEEP_BATCH]
    )
    for media_id in ids:
        fetch_media.delay(media_id)
    return {"enqueued": len(ids)}


# -- sending ----------------------------------------------------------------------------------
# acks_late + reject_on_worker_lost: a worker killed mid-send has its task redelivered, and
# delivery.deliver_message turns that redelivery into `unknown` instead of a second send.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
@runs_in_tenant_of(message_id=Message)
def send_message(self, message_id: int) -> dict:
    outcome = delivery.deliver_message(message_id)
    if outcome.retry_in is not None:
        # Bounded by services (the message's send_attempts), not by Celery's retry count.
        raise self.retry(countdown=outcome.retry_in)
    return outcome.as_dict()


# The batch path for first attempts (outbound.batch): kicked when a message is stored. A
# worker killed mid-batch leaves its claimed rows `sending`; the sweeper settles them (never
# resent). Bounded in time: past its limit it hands over to a fresh task.
@shared_task(acks_late=True, reject_on_worker_lost=True)
@runs_in_tenant_of(account_id=ProviderAccount)
def send_queued(account_id: int) -> dict:
    result = delivery.send_queued(account_id)
    if not result.get("done", True):
        send_queued.delay(account_id)
    return result


@shared_task(acks_late=True)
@cross_tenant_task("the sweeper of every tenant's queued sends")
def sweep_queued() -> dict:
    """Beat: re-enqueue queued sends whose task was lost; stuck sends become unknown."""
    touched = delivery.sweep_queued()
    return {key: len(ids) for key, ids in touched.items()}


