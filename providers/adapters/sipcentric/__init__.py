"""Sipcentric: `client` speaks its HTTP API, `parse` reads its values and records, `webhooks`
verifies and parses what it posts; `SipcentricAdapter` (in webhooks.py) is all three."""

from .webhooks import SipcentricAdapter

__all__ = ["SipcentricAdapter"]
