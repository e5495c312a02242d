"""Messaging tasks: thin wrappers taking ids; the work lives in importers/services."""

from __future__ import annotations

from celery import shared_task

from providers.adapters.errors import ProviderError

from . import importers


@shared_task(bind=True, max_retries=6, acks_late=True)
def fetch_media(self, media_id: int) -> str:
    """Copy an MMS attachment's bytes into our storage (providers expire them)."""
    try:
        return importers.fetch_media_file(media_id)
    except ProviderError as exc:  # only retryable ones get here
        if self.request.retries >= self.max_retries:
            return importers.mark_media_failed(media_id, exc.message)
        countdown = getattr(exc, "retry_after", None) or min(30 * 2**self.request.retries, 1800)
        raise self.retry(exc=exc, countdown=countdown) from exc


# -- sending ----------------------------------------------------------------------------------
# acks_late + reject_on_worker_lost: a worker killed mid-send has its task redelivered, and
# services.deliver_message turns that redelivery into `unknown` instead of a second send.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_message(self, message_id: int) -> dict:
    from . import services

    outcome = services.deliver_message(message_id)
    if outcome.retry_in is not None:
        # Bounded by services (the message's send_attempts), not by Celery's retry count.
        raise self.retry(countdown=outcome.retry_in)
    return outcome.as_dict()


@shared_task(acks_late=True)
def sweep_queued() -> dict:
    """Beat: re-enqueue queued sends whose task was lost; stuck sends become unknown."""
    from . import services

    touched = services.sweep_queued()
    return {key: len(ids) for key, ids in touched.items()}
