"""46elks: `client` speaks its HTTP API, `parse` reads its values and records, `webhooks`
verifies and parses what it posts; `Elks46Adapter` (in webhooks.py) is all three."""

from .webhooks import Elks46Adapter

__all__ = ["Elks46Adapter"]
