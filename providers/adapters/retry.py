"""The retry policy, in one place: exponential backoff with full jitter, honouring the
provider's Retry-After, bounded in attempts and delay."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import ProviderError, RateLimited

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 300.0

    def delay(self, attempt: int, error: ProviderError | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(self.max_delay, error.retry_after + random.uniform(0, self.base_delay))
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def should_retry(self, attempt: int, error: BaseException) -> bool:
        return isinstance(error, ProviderError) and error.retryable and attempt < self.max_attempts


DEFAULT_POLICY = RetryPolicy()
# Reads during a sync: a few quick retries before the resource records its error.
READ_POLICY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0)


def call_with_retry(
    fn: Callable[[], T], policy: RetryPolicy = READ_POLICY, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run an idempotent call (a read), retrying retryable provider errors.

    Never use it for a send: a send's retry goes through its task, which knows whether
    the request may have reached the provider.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except ProviderError as exc:
            if not policy.should_retry(attempt, exc):
                raise
            sleep(policy.delay(attempt, exc))
            attempt += 1
