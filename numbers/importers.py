"""Provider number records to PhoneNumber rows: one INSERT … ON CONFLICT per page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

from providers.adapters.records import RemoteNumber
from providers.importers import owner_ids, scrub, to_json
from providers.importing import UpsertResult
from providers.models import ProviderAccount

from .models import PhoneNumber

TABLE = PhoneNumber._meta.db_table

# `purpose` is ours: inserted empty, never in the update list.
UPSERT_SQL = f"""
    INSERT INTO {TABLE} AS p (
        tenant_id, provider_account_id, subaccount_id, remote_id, number, country, capabilities,
        category, active, sms_url, mms_url, voice_url, name, purpose, allocated_at, expires_at,
        monthly_cost, currency, created_at, updated_at, raw)
    SELECT %s, %s, i.subaccount_id, i.remote_id, i.number, i.country,
           string_to_array(i.capabilities, ','), i.category, i.active, i.sms_url, i.mms_url,
           i.voice_url, i.name, '', i.allocated_at, i.expires_at, i.monthly_cost, i.currency,
           now(), now(), i.raw::jsonb
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::boolean[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                %s::timestamptz[], %s::numeric[], %s::text[], %s::text[])
         AS i(subaccount_id, remote_id, number, country, capabilities, category, active, sms_url,
              mms_url, voice_url, name, allocated_at, expires_at, monthly_cost, currency, raw)
    ON CONFLICT (provider_account_id, remote_id) DO UPDATE SET
        subaccount_id = COALESCE(EXCLUDED.subaccount_id, p.subaccount_id),
        number = EXCLUDED.number,
        country = EXCLUDED.country,
        capabilities = EXCLUDED.capabilities,
        category = EXCLUDED.category,
        active = EXCLUDED.active,
        sms_url = EXCLUDED.sms_url,
        mms_url = EXCLUDED.mms_url,
        voice_url = EXCLUDED.voice_url,
        name = EXCLUDED.name,
        allocated_at = COALESCE(EXCLUDED.allocated_at, p.allocated_at),
        expires_at = EXCLUDED.expires_at,
        monthly_cost = COALESCE(EXCLUDED.monthly_cost, p.monthly_cost),
        currency = CASE WHEN EXCLUDED.monthly_cost IS NULL THEN p.currency ELSE EXCLUDED.currency END,
        raw = EXCLUDED.raw,
        updated_at = now()
    RETURNING id, (xmax = 0) AS inserted
"""  # noqa: S608 - the table name is ours, values are parameters


@transaction.atomic
def upsert_numbers(account: ProviderAccount, records: Sequence[RemoteNumber]) -> UpsertResult:
    """Numbers missing from a listing are kept (history points at them); the provider's
    `active` flag says whether they are still ours."""
    # One row per remote id: ON CONFLICT cannot touch a row twice in one statement.
    unique = list({r.remote_id: r for r in records}.values())
    if not unique:
        return UpsertResult()
    root_id, subs = owner_ids(account, (r.subaccount_remote_id for r in unique))
    params: list[Any] = [
        account.tenant_id,
        root_id,
        [subs.get(r.subaccount_remote_id) for r in unique],
        [r.remote_id for r in unique],
        [r.number for r in unique],
        [r.country.upper()[:2] for r in unique],
        [",".join(sorted({c.lower() for c in r.capabilities if c})) for r in unique],
        [r.category.lower()[:16] for r in unique],
        [r.active for r in unique],
        [r.sms_url for r in unique],
        [r.mms_url for r in unique],
        [r.voice_url for r in unique],
        [r.name[:200] for r in unique],
        [r.allocated_at for r in unique],
        [r.expires_at for r in unique],
        [r.cost for r in unique],
        [r.currency if r.cost is not None else "" for r in unique],
        [to_json(scrub(r.raw)) for r in unique],
    ]
    with connection.cursor() as cursor:
        cursor.execute(UPSERT_SQL, params)
        rows = cursor.fetchall()
    created = sum(1 for _, inserted in rows if inserted)
    return UpsertResult(created=created, updated=len(rows) - created)
