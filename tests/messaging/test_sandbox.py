"""End to end against the 46elks sandbox: a whole history walked page by page, and MMS
media copied into our storage."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db.models import Sum

from messaging import tasks
from messaging.importers import fetch_media_file, upsert_messages
from messaging.models import Message, MessageMedia
from providers.adapters.errors import ProviderError
from providers.connect import open_adapter
from providers.ingest import UpsertResult

pytest.importorskip("sandbox.elks46")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Media ids handed to the fetch task (run by hand here, no worker)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.fetch_media, "delay", ids.append)
    monkeypatch.setattr(tasks.fetch_media_batch, "delay", ids.extend)  # a page's, fanned out
    return ids


def sync_messages(account) -> tuple[UpsertResult, int]:
    """Walk the account's whole message history; (total result, pages)."""
    total, pages, cursor = UpsertResult(), 0, None
    with open_adapter(account) as adapter:
        while True:
            page = adapter.list_messages(cursor)
            total += upsert_messages(account, page.items)
            pages += 1
            cursor = page.cursor
            if page.done:
                return total, pages


def sandbox_history(sandbox, account) -> list[dict]:
    """The simulator's own records for the account: the truth to compare with."""
    sim = sandbox.sims["46elks"]
    twin = sandbox.find_account("46elks", **account.credentials)
    return [rec for kind in ("sms", "mms") for _, rec in sim._seeded_rows(twin, kind, None, None)]


def test_sync_imports_the_sandbox_history(sandbox, sandbox_account, tenant_a, enqueued):
    account = sandbox_account(tenant_a, "46elks", size=120)
    history = sandbox_history(sandbox, account)

    total, pages = sync_messages(account)

    messages = Message.objects.for_tenant(tenant_a)
    assert total == UpsertResult(created=len(history), updated=0)
    assert pages > 1
    assert messages.count() == len(history) == 132  # 120 SMS + 12 MMS
    assert set(messages.values_list("remote_id", flat=True)) == {rec["id"] for rec in history}
    expected_cost = sum(Decimal(rec.get("cost", 0)) for rec in history) / 10000
    assert messages.aggregate(total=Sum("cost"))["total"] == expected_cost
    assert messages.filter(kind="mms").count() == 12
    assert messages.filter(direction="inbound").exclude(status="received").count() == 0


def test_second_sync_changes_nothing(sandbox_account, tenant_a, enqueued):
    account = sandbox_account(tenant_a, "46elks", size=120)
    sync_messages(account)
    enqueued.clear()

    total, _ = sync_messages(account)

    assert total == UpsertResult(created=0, updated=132)
    assert Message.objects.for_tenant(tenant_a).count() == 132
    assert MessageMedia.objects.for_tenant(tenant_a).count() == 12
    assert enqueued == []


def test_mms_media_is_fetched_into_storage(
    sandbox_account, tenant_a, enqueued, django_capture_on_commit_callbacks
):
    account = sandbox_account(tenant_a, "46elks", size=120)
    with django_capture_on_commit_callbacks(execute=True):
        sync_messages(account)
    media = MessageMedia.objects.for_tenant(tenant_a)
    assert sorted(enqueued) == sorted(media.values_list("pk", flat=True))
    assert len(enqueued) == 12

    for media_id in enqueued:
        tasks.fetch_media(media_id)

    for item in media:
        assert item.fetch_status == "fetched", item.fetch_error
        data = default_storage.open(item.file.name).read()
        assert data.startswith(b"\x89PNG")
        assert (item.size, item.digest) == (len(data), hashlib.sha256(data).hexdigest())
        assert item.content_type == "image/png"
        assert item.file.name.startswith(f"messaging/{tenant_a.pk}/")


def test_fetching_twice_keeps_the_first_copy(sandbox_account, tenant_a, enqueued):
    account = sandbox_account(tenant_a, "46elks", size=20)
    sync_messages(account)
    item = MessageMedia.objects.for_tenant(tenant_a).first()
    fetch_media_file(item.pk)
    first = MessageMedia.objects.get(pk=item.pk)

    assert fetch_media_file(item.pk) == "fetched"

    assert MessageMedia.objects.get(pk=item.pk).file.name == first.file.name


def test_media_the_provider_does_not_know_is_marked_failed(sandbox_account, tenant_a, enqueued):
    account = sandbox_account(tenant_a, "46elks", size=20)
    sync_messages(account)
    item = MessageMedia.objects.for_tenant(tenant_a).first()
    MessageMedia.objects.filter(pk=item.pk).update(remote_id="m-gone-i0")

    assert fetch_media_file(item.pk) == "failed"

    item.refresh_from_db()
    assert (item.fetch_status, bool(item.fetch_error), item.file.name) == ("failed", True, "")


def test_provider_outage_leaves_media_pending_for_a_retry(sandbox, sandbox_account, tenant_a, enqueued):
    account = sandbox_account(tenant_a, "46elks", size=20)
    sync_messages(account)
    item = MessageMedia.objects.for_tenant(tenant_a).first()
    sandbox.faults.add("error", provider="46elks", status=503)

    with pytest.raises(ProviderError) as raised:
        fetch_media_file(item.pk)

    assert raised.value.retryable
    item.refresh_from_db()
    assert (item.fetch_status, item.fetch_attempts) == ("pending", 1)
