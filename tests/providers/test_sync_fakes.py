"""Test doubles for the sync engine, shared by the providers test modules: an adapter with
an in-memory paged history, and importers that remember what they were given."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from providers import connect, ingest
from providers import sync as sync_module
from providers.adapters import Adapter
from providers.adapters.errors import ProviderError
from providers.adapters.records import Capability, Page
from providers.crypto import encrypt_json
from providers.ingest import UpsertResult
from providers.models import ProviderAccount

PASSWORD = "pw-very-secret-123"
PAGE_SIZE = 10


@dataclass
class Item:
    remote_id: str


class FakeAdapter(Adapter):
    """History of `size` items per resource, paged by offset; `faults[resource]` raises
    that error on every fetch at or past `after_pages` pages."""

    code = "46elks"
    name = "Fake"
    default_base_url = "http://fake"
    capabilities = frozenset({Capability.MESSAGES, Capability.CALLS, Capability.NUMBERS})
    webhook_kinds = ("sms",)

    def __init__(self, world: FakeWorld):
        self.world = world

    def list_page(self, resource: str, cursor: str | None) -> Page:
        self.world.fetches.append((resource, cursor))
        start = int(cursor or 0)
        fault = self.world.faults.get(resource)
        if fault and start >= fault[0] * PAGE_SIZE and (fault[2] is None or fault[2] > 0):
            self.world.faults[resource] = (fault[0], fault[1], None if fault[2] is None else fault[2] - 1)
            raise fault[1]
        size = self.world.sizes.get(resource, 25)
        end = min(start + PAGE_SIZE, size)
        items = [Item(f"{resource}-{i}") for i in range(start, end)]
        return Page(items, str(end), end >= size)


@dataclass
class FakeWorld:
    sizes: dict[str, int] = field(default_factory=dict)
    # resource -> (after_pages, error, times or None for always)
    faults: dict[str, tuple[int, Exception, int | None]] = field(default_factory=dict)
    fetches: list[tuple[str, str | None]] = field(default_factory=list)
    imported: dict[str, list[str]] = field(default_factory=dict)
    importer_errors: dict[str, tuple[int, Exception]] = field(default_factory=dict)
    capabilities: frozenset[Capability] | None = None

    def fail(self, resource: str, error: ProviderError | Exception, *, after_pages: int = 0, times=None):
        self.faults[resource] = (after_pages, error, times)

    def importer(self, resource: str):
        def upsert(account, records) -> UpsertResult:
            seen = self.imported.setdefault(resource, [])
            fault = self.importer_errors.get(resource)
            if fault and len(seen) >= fault[0] * PAGE_SIZE:
                del self.importer_errors[resource]
                raise fault[1]
            seen.extend(r.remote_id for r in records)
            return UpsertResult(created=len(records))

        return upsert


@pytest.fixture
def registry():
    """Restores the importer/handler registry after a test that registers fakes."""
    importers, handlers = dict(ingest._importers), dict(ingest._event_handlers)
    yield ingest
    ingest._importers.clear()
    ingest._importers.update(importers)
    ingest._event_handlers.clear()
    ingest._event_handlers.update(handlers)


@pytest.fixture
def world(monkeypatch, registry) -> FakeWorld:
    """Every account's adapter is a FakeAdapter over this world; fake importers registered."""
    world = FakeWorld()

    @contextmanager
    def open_adapter(account, *, record=True, recorder=None):
        adapter = FakeAdapter(world)
        if world.capabilities is not None:
            adapter.capabilities = world.capabilities
        yield adapter

    monkeypatch.setattr(connect, "open_adapter", open_adapter)
    monkeypatch.setattr(
        ProviderAccount, "capabilities", property(lambda self: world.capabilities or FakeAdapter.capabilities)
    )
    monkeypatch.setattr(sync_module, "sleep", lambda seconds: None)
    for resource in ("messages", "calls", "numbers", "recordings", "subaccounts"):
        registry.register_importer(resource, world.importer(resource))
    return world


def make_account(tenant, name: str = "Main", **fields) -> ProviderAccount:
    return ProviderAccount.objects.create(
        tenant=tenant,
        provider="46elks",
        name=name,
        credentials_encrypted=encrypt_json({"username": "u-" + name, "password": PASSWORD}),
        **fields,
    )
