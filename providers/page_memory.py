"""Pages of history a sync has already written, remembered by a digest of their records.

A rerun over unchanged history (cursors forgotten, the account connected again, an
incremental sync's overlap window) fetches pages whose records are exactly the ones a
previous sync wrote. Their write would change nothing (the importers skip unchanged rows),
but it still costs staging, comparing and locking every row. A page whose digest is
remembered for the account and resource skips its importer; every other page is imported
as before and remembered in the same savepoint as its rows and cursor.

The digest covers the parsed records (every field, the raw payload included) and
PAGE_FORMAT: a parser that reads a new field changes the records, and so the digest; an
importer that starts storing something new from the same records must bump PAGE_FORMAT so
the next full sync writes every page again. Only resources whose importer is a pure upsert
of the page's records are remembered (REMEMBERED): the number and subaccount lists are
small, and their imports also notice what disappeared.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from .models import ProviderAccount, SyncedPage

PAGE_FORMAT = 1
REMEMBERED = ("messages", "calls")


def page_digest(resource: str, items: Sequence[Any]) -> bytes | None:
    """The page's digest, or None when it is not remembered (another resource, no records).
    Records are dataclasses of plain values: pickling them is a canonical encoding of what
    the importer would receive."""
    if resource not in REMEMBERED or not items:
        return None
    return hashlib.blake2b(
        pickle.dumps((PAGE_FORMAT, resource, list(items)), protocol=5), digest_size=16
    ).digest()


def written_before(account: ProviderAccount, resource: str, digest: bytes | None) -> bool:
    """Whether this account's sync already wrote this page; marks it seen again."""
    if digest is None:
        return False
    table = SyncedPage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET seen_at = now()"  # noqa: S608 - the table name is ours
            " WHERE tenant_id = %s AND account_id = %s AND resource = %s AND digest = %s",
            [account.tenant_id, account.pk, resource, digest],
        )
        return cursor.rowcount > 0


def remember_sql(table: str = SyncedPage._meta.db_table) -> str:
    """A CTE for the statement that saves a page's cursor (one round trip for both);
    parameters: tenant, account, resource, digest (NULL: nothing to remember)."""
    return f"""page_remembered AS (
                INSERT INTO {table} (tenant_id, account_id, resource, digest, seen_at)
                SELECT %s, %s, %s, d, now() FROM (SELECT %s::bytea AS d) AS page WHERE d IS NOT NULL
                ON CONFLICT (account_id, resource, digest) DO UPDATE SET seen_at = now()
            )"""  # noqa: S608 - the table name is ours


def forgettable(now: Any = None) -> QuerySet[SyncedPage]:
    """The pages no sync has seen for SYNC_PAGE_MEMORY_DAYS (deleted daily, in batches)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SYNC_PAGE_MEMORY_DAYS)
    return SyncedPage.objects.filter(seen_at__lt=cutoff)
