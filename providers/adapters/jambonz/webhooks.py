"""jambonz: webhooks in (verifying and parsing what the provider posts)."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from ..errors import Malformed, Rejected, WebhookRejected
from ..records import (
    CallState,
    Direction,
    EventType,
    InboundEvent,
    MessageKind,
    MessageStatus,
    MessageStatusUpdate,
    RemoteMedia,
    RemoteMessage,
    WebhookRequest,
)
from .client import JambonzClient
from .parse import (
    ACTION_TAG,
    MESSAGE_STATUSES,
    _int,
    _scrub,
    e164,
    parse_live_call,
    verbs_for_action,
)


class JambonzAdapter(JambonzClient):
    """The jambonz adapter: client.py's API side plus the webhooks below."""

    def _secrets(self) -> list[str]:
        return [s.strip() for s in (self.connection.webhook_secret or "").split(",") if s.strip()]

    @staticmethod
    def _signature_parts(header: str) -> tuple[int | None, list[str]]:
        t: int | None = None
        sigs: list[str] = []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                try:
                    t = _int(value)
                except Malformed:
                    raise WebhookRejected("Malformed Jambonz-Signature header.") from None
            elif key == "v1" and value:
                sigs.append(value.strip())
        return t, sigs

    def verify_webhook(self, request: WebhookRequest) -> None:
        """Jambonz-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}." + raw body)>.
        Several comma-separated secrets are tried, for rotation."""
        header = request.headers.get("jambonz-signature", "")
        if not header:
            raise WebhookRejected("Missing Jambonz-Signature header.")
        secrets = self._secrets()
        if not secrets:
            raise WebhookRejected("No jambonz webhook secret is configured for this account.")
        t, sigs = self._signature_parts(header)
        if t is None or not sigs:
            raise WebhookRejected("Malformed Jambonz-Signature header.")
        if abs(time.time() - t) > self.signature_tolerance:
            raise WebhookRejected("Jambonz-Signature timestamp is outside the tolerance.")
        message = f"{t}.".encode() + request.body
        expected = [hmac.new(s.encode(), message, hashlib.sha256).hexdigest() for s in secrets]
        # Compare every pair so timing says nothing about which secret or signature matched.
        ok = False
        for sig in sigs:
            for want in expected:
                ok |= hmac.compare_digest(sig.lower().encode(), want.encode())
        if not ok:
            raise WebhookRejected("Jambonz-Signature does not match.")
        super().verify_webhook(request)

    def _event_time(self, request: WebhookRequest) -> datetime:
        t, _ = self._signature_parts(request.headers.get("jambonz-signature", ""))
        return datetime.fromtimestamp(t, tz=UTC) if t else self.now()

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        try:
            payload = request.json()
        except (ValueError, UnicodeDecodeError):
            raise Rejected("jambonz webhook body is not JSON.") from None
        if not isinstance(payload, dict):
            raise Rejected("jambonz webhook body is not a JSON object.")
        at = self._event_time(request)
        if kind == "call-status":
            call = parse_live_call(payload, occurred_at=at)
            event_id = f"{call.remote_id}:{call.raw_state}:{payload.get('sip_status', '')}"
            return [InboundEvent(EventType.CALL_STATUS, event_id, call=call, raw=_scrub(payload))]
        if kind == "call":
            call = parse_live_call(payload, occurred_at=at)
            if call.state in (CallState.QUEUED, CallState.UNKNOWN):
                # A new call reaching the app: it is ringing as far as we are concerned.
                call.state = CallState.RINGING
            customer = payload.get("customerData") or payload.get("customer_data") or {}
            action = customer.get(ACTION_TAG) if isinstance(customer, dict) else None
            # jambonz wants a JSON array of verbs; the contract types reply as a dict, so
            # this list is only set when place_call parked an action in the tag.
            reply: Any = verbs_for_action(action) if isinstance(action, dict) else None
            event_id = f"{call.remote_id}:call_hook:{call.raw_state}"
            return [
                InboundEvent(
                    EventType.CALL_STATUS, event_id, call=call, reply=reply or None, raw=_scrub(payload)
                )
            ]
        if kind == "sms":
            return [self._sms_event(payload, at)]
        raise Rejected(f"Unknown jambonz webhook kind {kind!r}.")

    def _sms_event(self, payload: dict[str, Any], at: datetime) -> InboundEvent:
        sid = str(payload.get("message_sid") or "")
        if not sid:
            raise Rejected("jambonz message payload without message_sid.")
        if "message_status" in payload and "text" not in payload:
            # A message verb's actionHook: the outcome of a message we sent from a call app.
            raw_status = str(payload.get("message_status") or "")
            update = MessageStatusUpdate(
                remote_id=sid,
                status=MESSAGE_STATUSES.get(raw_status, MessageStatus.UNKNOWN),
                raw_status=raw_status,
                occurred_at=at,
                error=str(payload.get("message_failure_reason") or ""),
            )
            return InboundEvent(
                EventType.MESSAGE_STATUS, f"{sid}:{raw_status}", status_update=update, raw=_scrub(payload)
            )
        if not payload.get("from") or not payload.get("to"):
            raise Rejected("jambonz message payload without from/to.")
        media = [m for m in payload.get("media") or [] if isinstance(m, str) and m]
        message = RemoteMessage(
            remote_id=sid,
            kind=MessageKind.MMS if media else MessageKind.SMS,
            direction=Direction.INBOUND,
            from_number=e164(payload.get("from")),
            to_number=e164(payload.get("to")),
            body=str(payload.get("text") or ""),
            status=MessageStatus.RECEIVED,
            raw_status="received",
            created_at=at,
            media=[RemoteMedia(remote_id=url, url=url) for url in media],
            raw=_scrub(payload),
        )
        return InboundEvent(EventType.MESSAGE_INBOUND, sid, message=message, raw=_scrub(payload))
