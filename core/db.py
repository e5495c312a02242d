"""Database helpers shared by every write path."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Postgres SQLSTATEs that mean "run the transaction again": it did nothing.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
MAX_ATTEMPTS = 5


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_on_conflict(func: Callable[P, T]) -> Callable[P, T]:
    """Run `func` (which opens its own transaction) again when Postgres aborted it with a
    deadlock or a serialization failure, with a short jittered backoff; the last failure
    propagates. Only for outermost transactions: inside another one the retry would run
    in an aborted transaction, so there it is not attempted."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if not is_retryable(exc) or attempt == MAX_ATTEMPTS or connection.in_atomic_block:
                    raise
                logger.warning("%s: %s; retrying (attempt %d)", func.__qualname__, exc, attempt + 1)
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


def atomic_with_retry(func: Callable[P, T]) -> Callable[P, T]:
    """`transaction.atomic` around `func`, retried on deadlock / serialization failure."""
    return retry_on_conflict(transaction.atomic(func))


def delete_in_batches(queryset, batch: int = 5000) -> int:
    """Delete the rows of `queryset` `batch` at a time, each batch its own short transaction
    (retention on a big table never holds one long lock); returns how many were deleted."""
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]
