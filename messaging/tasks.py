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
