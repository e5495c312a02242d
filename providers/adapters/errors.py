"""The small error hierarchy every adapter raises. Callers decide on retries by class."""

from __future__ import annotations


class ProviderError(Exception):
    """Base class. `message` is safe to show to users and to store (never holds secrets)."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class AuthFailed(ProviderError):
    """The provider refused the credentials (401/403 or the provider's equivalent)."""


class Rejected(ProviderError):
    """Bad input: the provider's message says why. Never retried."""


class RateLimited(ProviderError):
    retryable = True

    def __init__(
        self,
        message: str = "Rate limited by the provider.",
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """5xx, timeouts, connection errors, unreadable bodies. Retried.

    `request_sent` is True when the request may have reached the provider (a read timeout,
    a dropped connection after sending, a 5xx): for a send, the outcome is then unknown
    and must be reconciled, never blindly retried.
    """

    retryable = True

    def __init__(
        self, message: str, *, request_sent: bool = True, status: int | None = None, code: str | None = None
    ):
        super().__init__(message, status=status, code=code)
        self.request_sent = request_sent


class NotSupported(ProviderError):
    """The provider (or its adapter) cannot do this operation."""


class WebhookRejected(ProviderError):
    """A webhook failed verification (bad signature, token or source address)."""


class Malformed(ValueError):
    """A value the provider sent that the adapter cannot read (a garbage timestamp, amount,
    number or a missing required field). The one parse-failure policy of every adapter:
    parsing never guesses (no None for garbage; None only for an absent value); the adapter
    contract (base.Adapter) turns a Malformed answer into Unavailable("Malformed response …",
    request_sent=True) and a malformed webhook into Rejected."""
