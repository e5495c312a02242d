"""Sipcentric: webhooks in (verifying and parsing what the provider posts)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from ..errors import ProviderError, Rejected
from ..records import (
    EventType,
    InboundEvent,
    WebhookRequest,
)
from .client import SipcentricClient
from .parse import (
    _word,
    parse_message,
    to_e164,
)


class SipcentricAdapter(SipcentricClient):
    """The Sipcentric adapter: client.py's API side plus the webhooks below."""

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        """Inbound SMS: a form POST `to, from, body, udh` to the number's smsNotificationUrl.

        The form has no id. The same message shows up in `/sms` with a numeric id, so we
        look it up there (newest inbound with the same from/to/body) and use the real id;
        only if that fails is the id derived from the form ("wh-<sha256>"), which the
        history sync will then import a second time under its real id.
        """
        if kind != "sms":
            raise Rejected(f"Sipcentric sends no {kind!r} webhooks.")
        form = request.form()
        if not form.get("from") or not form.get("to") or "body" not in form:
            raise Rejected("Sipcentric SMS webhook without to/from/body.")
        frm, to, body, udh = form["from"], form["to"], form["body"], form.get("udh", "")
        item = self._find_inbound(frm, to, body) if not udh else None
        found = item is not None
        if item is None:
            digest = hashlib.sha256("|".join((frm, to, body, udh)).encode()).hexdigest()[:32]
            item = {"id": f"wh-{digest}", "direction": "IN", "from": frm, "to": to, "body": body}
        message = parse_message({**item, "direction": "IN"}, fallback_time=datetime.now(UTC))
        message.raw = {"webhook": form, "history": item if found else None}
        return [InboundEvent(EventType.MESSAGE_INBOUND, event_id=None, message=message, raw=form)]

    def _find_inbound(self, frm: str, to: str, body: str) -> dict[str, Any] | None:
        if not self.connection.options.get("webhook_lookup", True):
            return None
        want = (to_e164(frm), to_e164(to), body)
        try:
            data = self._page(f"{self.customer_path}/sms", {"page": 1, "pageSize": 50})
        except ProviderError:
            return None
        for item in data["items"]:
            if _word(item.get("direction")) != "IN":
                continue
            if (to_e164(item.get("from")), to_e164(item.get("to")), str(item.get("body") or "")) == want:
                found: dict[str, Any] = item
                return found
        return None
