"""Callr: `client` speaks its HTTP API, `parse` reads its values and records, `webhooks`
verifies and parses what it posts; `CallrAdapter` (in webhooks.py) is all three."""

from .webhooks import CallrAdapter

__all__ = ["CallrAdapter"]
