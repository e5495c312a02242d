"""Hand-built provider records for the calls tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from providers.adapters.records import CallState, Direction, RemoteCall, RemoteCallLeg, RemoteRecording

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def leg(i: int, state: CallState = CallState.COMPLETED, **fields) -> RemoteCallLeg:
    values = {
        "from_number": "+46700000001",
        "to_number": f"+4670111{i:04d}",
        "state": state,
        "raw_state": str(state),
        "duration": 30,
    }
    values.update(fields)
    return RemoteCallLeg(**values)


def call(i: int, state: CallState = CallState.COMPLETED, **fields) -> RemoteCall:
    values = {
        "remote_id": f"c{i}",
        "direction": Direction.OUTBOUND,
        "from_number": "+46700000001",
        "to_number": f"+4670222{i:04d}",
        "state": state,
        "raw_state": str(state),
        "created_at": T0 + timedelta(minutes=i),
        "duration": 60 if state == CallState.COMPLETED else None,
        "cost": Decimal("1.2500") if state == CallState.COMPLETED else None,
        "currency": "SEK" if state == CallState.COMPLETED else "",
        "legs": [leg(1), leg(2)],
        "raw": {"id": f"c{i}", "state": str(state)},
    }
    values.update(fields)
    return RemoteCall(**values)


def recording(i: int, call_remote_id: str = "", **fields) -> RemoteRecording:
    values = {
        "remote_id": f"c{i}-r1",
        "call_remote_id": call_remote_id or f"c{i}",
        "created_at": T0 + timedelta(minutes=i, seconds=30),
        "duration": 42,
        "raw": {"id": f"c{i}-r1"},
    }
    values.update(fields)
    return RemoteRecording(**values)
