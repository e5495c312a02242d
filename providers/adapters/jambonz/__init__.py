"""jambonz: `client` speaks its HTTP API, `parse` reads its values and records, `webhooks`
verifies and parses what it posts; `JambonzAdapter` (in webhooks.py) is all three."""

from .webhooks import JambonzAdapter

__all__ = ["JambonzAdapter"]
