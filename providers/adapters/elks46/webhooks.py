"""46elks: webhooks in (verifying and parsing what the provider posts)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import Malformed, Rejected
from ..records import (
    CallState,
    Direction,
    EventType,
    InboundEvent,
    MessageKind,
    MessageStatus,
    MessageStatusUpdate,
    RemoteCall,
    RemoteMessage,
    WebhookRequest,
)
from .client import Elks46Client
from .parse import (
    MESSAGE_STATUS,
    _direction,
    _media_from_ref,
    _required_time,
    _time,
    parse_call,
)


class Elks46Adapter(Elks46Client):
    """The 46elks adapter: client.py's API side plus the webhooks below."""

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        if kind not in self.webhook_kinds:
            raise Rejected(f"Unknown 46elks webhook kind {kind!r}.")
        form = request.form()
        try:
            return [getattr(self, f"_hook_{kind}")(form)]
        except (Malformed, KeyError, TypeError, ValueError):
            raise Rejected(f"Malformed 46elks {kind} webhook.") from None

    @staticmethod
    def _need(form: dict[str, str], *keys: str) -> None:
        missing = [k for k in keys if not form.get(k, "").strip()]
        if missing:
            raise Malformed(f"missing {', '.join(missing)}")

    def _inbound(self, form: dict[str, str], kind: MessageKind) -> InboundEvent:
        self._need(form, "id", "from", "to", "created")
        images = [form[k] for k in ("image", "image2", "image3", "image4") if form.get(k)]
        message = RemoteMessage(
            remote_id=form["id"],
            kind=kind,
            direction=_direction(form.get("direction") or "incoming"),
            from_number=form["from"],
            to_number=form["to"],
            body=form.get("message", ""),
            status=MessageStatus.RECEIVED,
            raw_status=form.get("status", ""),
            created_at=_required_time(form["created"]),
            media=[_media_from_ref(ref, self.http.base_url) for ref in images],
            raw=dict(form),
        )
        return InboundEvent(EventType.MESSAGE_INBOUND, None, message=message, raw=dict(form))

    def _hook_sms(self, form: dict[str, str]) -> InboundEvent:
        return self._inbound(form, MessageKind.SMS)

    def _hook_mms(self, form: dict[str, str]) -> InboundEvent:
        return self._inbound(form, MessageKind.MMS)

    def _hook_dlr(self, form: dict[str, str]) -> InboundEvent:
        self._need(form, "id", "status")
        raw_status = form["status"].strip()
        status = MESSAGE_STATUS.get(raw_status.lower(), MessageStatus.UNKNOWN)
        update = MessageStatusUpdate(
            remote_id=form["id"],
            status=status,
            raw_status=raw_status,
            occurred_at=_time(form.get("delivered")) if status is MessageStatus.DELIVERED else None,
            error="Delivery failed." if status is MessageStatus.FAILED else "",
        )
        # No event id from 46elks; id:status makes a replayed report a no-op.
        return InboundEvent(
            EventType.MESSAGE_STATUS, f"{form['id']}:{raw_status}", status_update=update, raw=dict(form)
        )

    def _hook_voice(self, form: dict[str, str]) -> InboundEvent:
        self._need(form, "callid", "from", "to")
        result = form.get("result", "")
        if result and result != "newoutgoing":
            # An action result (connect/play/ivr/record) posted to a `next` URL: the call's
            # own state comes with whenhangup, so there is nothing to apply here.
            return InboundEvent(EventType.IGNORED, None, raw=dict(form))
        outgoing = result == "newoutgoing"
        call = RemoteCall(
            remote_id=form["callid"],
            direction=Direction.OUTBOUND if outgoing else _direction(form.get("direction") or "incoming"),
            from_number=form["from"],
            to_number=form["to"],
            # voice_start is fetched when an outgoing call is answered; incoming calls ring.
            state=CallState.IN_PROGRESS if outgoing else CallState.RINGING,
            raw_state=result or "incoming",
            created_at=_time(form.get("created")) or datetime.now(UTC),
            raw=dict(form),
        )
        return InboundEvent(EventType.CALL_STATUS, None, call=call, raw=dict(form))

    def _hook_hangup(self, form: dict[str, str]) -> InboundEvent:
        self._need(form, "id", "from", "to", "state", "created")
        call = parse_call(dict(form), self._currency_hint())
        return InboundEvent(EventType.CALL_STATUS, None, call=call, raw=dict(form))
