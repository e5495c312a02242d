"""Where provider records meet the domain apps, without providers importing them.

Domain apps register, in their AppConfig.ready():
- an importer per history resource: `register_importer("messages", upsert_messages)`,
  called as `importer(account, records) -> UpsertResult` for each page of a sync;
- a handler per webhook event type: `register_event_handler(EventType.MESSAGE_STATUS, fn)`,
  called as `fn(account, event) -> bool` (True when something changed); optionally a batch
  handler, `fn(account, events) -> [bool, …]`, which the webhook applier prefers.
A sync and a webhook thus reach a table through the same write path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .adapters.records import EventType, InboundEvent

if TYPE_CHECKING:
    from .models import ProviderAccount


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0  # rows that existed (whether or not a value changed)

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(self.created + other.created, self.updated + other.updated)


Importer = Callable[["ProviderAccount", Sequence[Any]], UpsertResult]
EventHandler = Callable[["ProviderAccount", InboundEvent], bool]
# Many events of one type and account at once, one set-based write; a bool per event.
BatchEventHandler = Callable[["ProviderAccount", Sequence[InboundEvent]], list[bool]]

_importers: dict[str, Importer] = {}
_event_handlers: dict[EventType, EventHandler] = {}
_batch_handlers: dict[EventType, BatchEventHandler] = {}


def register_importer(resource: str, importer: Importer) -> None:
    _importers[resource] = importer


def register_event_handler(event_type: EventType, handler: EventHandler) -> None:
    _event_handlers[event_type] = handler


def register_batch_event_handler(event_type: EventType, handler: BatchEventHandler) -> None:
    _batch_handlers[event_type] = handler


def batch_handler_for(event_type: EventType) -> BatchEventHandler | None:
    return _batch_handlers.get(event_type)


def importer_for(resource: str) -> Importer:
    try:
        return _importers[resource]
    except KeyError:
        raise LookupError(f"No importer registered for {resource!r}") from None


def handler_for(event_type: EventType) -> EventHandler | None:
    return _event_handlers.get(event_type)


def owners(account: ProviderAccount) -> tuple[ProviderAccount, ProviderAccount | None]:
    """(provider_account, subaccount) for rows fetched through `account`: rows of a
    subaccount hang off its root account and name the subaccount."""
    if account.parent_id and account.parent is not None:
        return account.parent, account
    return account, None
