"""Callr: webhooks in (verifying and parsing what the provider posts)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from ..errors import Rejected, WebhookRejected
from ..normalize import from_cents, parse_time
from ..records import (
    Direction,
    EventType,
    InboundEvent,
    MessageStatus,
    MessageStatusUpdate,
    WebhookRequest,
)
from .client import CallrClient
from .parse import (
    HMAC_ALGOS,
    SMS_STATUS,
    _time,
    parse_cdr,
    parse_sms,
)


class CallrAdapter(CallrClient):
    """The Callr adapter: client.py's API side plus the webhooks below."""

    def verify_webhook(self, request: WebhookRequest) -> None:
        super().verify_webhook(request)
        # Several comma-separated secrets are tried, for rotation.
        secrets = [s.strip() for s in (self.connection.webhook_secret or "").split(",") if s.strip()]
        if not secrets:
            return  # the URL token is the only check; Callr signs only when given a secret
        given = request.headers.get("x-callr-hmacsignature", "")
        if not given:
            raise WebhookRejected("Callr webhook signature is missing.")
        algo_name = str(self.connection.options.get("hmac_algo") or "SHA256").upper()
        algo = HMAC_ALGOS.get(algo_name, hashlib.sha256)
        ok = False
        for secret in secrets:  # every one compared, so timing tells nothing
            expected = base64.b64encode(hmac.new(secret.encode(), request.body, algo).digest())
            ok |= hmac.compare_digest(expected, given.strip().encode())
        if not ok:
            raise WebhookRejected("Callr webhook signature does not match.")

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise Rejected("Callr webhook body is not JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise Rejected("Callr webhook has no event type.")
        etype = body["type"]
        data = body.get("data")
        event_id = str(body.get("event_id") or request.headers.get("x-callr-eventid") or "") or None
        event_at = parse_time(body.get("event_at")) if body.get("event_at") else None
        try:
            if etype == "sms.mo":
                if not isinstance(data, dict):
                    raise Rejected("Callr sms.mo has no data.")
                data = dict(data)
                data.setdefault("date_received", body.get("event_at"))
                if not data.get("date_creation") and not data.get("date_received"):
                    raise Rejected("Callr sms.mo has no date.")
                message = parse_sms(data, self._currency, inbound=True)
                if not message.remote_id:
                    message.remote_id = f"evt-{event_id}"
                if not message.raw_status:
                    message.raw_status = "RECEIVED"
                return [InboundEvent(EventType.MESSAGE_INBOUND, event_id, message=message, raw=body)]
            if etype == "sms.mt.status_update":
                if not isinstance(data, dict) or not data.get("hash"):
                    raise Rejected("Callr status update has no SMS hash.")
                raw_status = str(data.get("status") or "")
                debit = data.get("b_customer_debit")
                update = MessageStatusUpdate(
                    remote_id=str(data["hash"]),
                    status=SMS_STATUS.get(raw_status.upper(), MessageStatus.UNKNOWN),
                    raw_status=raw_status,
                    occurred_at=_time(data.get("date_update")) or event_at,
                    error=str(data.get("status_error") or ""),
                    cost=from_cents(debit),  # cents with 2 decimals
                    currency=self._currency if debit not in (None, "") else "",
                )
                return [InboundEvent(EventType.MESSAGE_STATUS, event_id, status_update=update, raw=body)]
            match = re.fullmatch(r"call\.(inbound|outbound)_(start|hangup)", etype)
            if match:
                if not isinstance(data, dict):
                    raise Rejected("Callr call event has no data.")
                direction = Direction.INBOUND if match[1] == "inbound" else Direction.OUTBOUND
                call = parse_cdr(data, direction, live=match[2] == "start")
                return [InboundEvent(EventType.CALL_STATUS, event_id, call=call, raw=body)]
        except ValueError as exc:  # a garbage date or amount
            raise Rejected(f"Callr webhook is malformed: {exc}") from None
        # billing.*, did.*, media.*, job.* …: authentic, nothing to apply.
        return [InboundEvent(EventType.IGNORED, event_id, raw=body)]
