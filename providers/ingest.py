"""Where provider records enter the domain apps, without providers importing them; and
what every domain importer shares (the owning account pair, the per-account write lock,
raw JSON without secrets, UpsertResult).

Domain apps register, in their AppConfig.ready():
- an importer per history resource: `register_importer("messages", upsert_messages)`,
  called as `importer(account, records) -> UpsertResult` for each page of a sync;
- a handler per webhook event type: `register_event_handler(EventType.MESSAGE_STATUS, fn)`,
  called as `fn(account, event) -> bool` (True when something changed); optionally a batch
  handler, `fn(account, events) -> [bool, …]`, which the webhook applier prefers.
A sync and a webhook thus reach a table through the same write path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from .adapters.records import EventType, InboundEvent
from .models import ProviderAccount

# Keys that are credentials wherever a provider puts them; never copied into stored raw JSON.
SECRET_KEYS = frozenset({"secret", "password", "api_key", "apikey", "token", "auth_token", "hmac_secret"})


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


def lock_account(account_id: int, namespace: int) -> None:
    """Serialize writers of one account's rows (a sync page and a webhook) until commit, so
    read-then-write rollup deltas cannot interleave."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, account_id])


def to_json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def scrub(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if str(k).lower() not in SECRET_KEYS}


def owner_ids(
    account: ProviderAccount, subaccount_remote_ids: Iterable[str]
) -> tuple[int, dict[str, int | None]]:
    """(root id, {subaccount_remote_id: subaccount id}) for records fetched through `account`.
    Records of a subaccount's own history name no subaccount and get the account itself;
    records a root lists for its children resolve by remote id (unknown ones: None)."""
    root, sub = owners(account)
    wanted = {r for r in subaccount_remote_ids if r}
    mapping: dict[str, int | None] = {"": sub.pk if sub else None}
    if wanted:
        found = dict(
            ProviderAccount.objects.filter(parent=root, remote_account_id__in=wanted).values_list(
                "remote_account_id", "id"
            )
        )
        for remote_id in wanted:
            mapping[remote_id] = found.get(remote_id, sub.pk if sub else None)
    return root.pk, mapping
