"""calls 0003: the claim markers and JSON that our calls kept before the outbound layer
become its state and columns (the migration's SQL, run on rows written the old way)."""

from __future__ import annotations

import importlib

from django.db import connection
from django.utils import timezone

from calls.models import Call

migration = importlib.import_module("calls.migrations.0003_call_outbound_columns")


def _old_style(tenant, account, *, state="queued", raw_state="", remote_id="", raw=None) -> Call:
    return Call.objects.create(
        tenant=tenant,
        provider_account=account,
        direction="outbound",
        from_number="+46766861234",
        to_number="+46701234567",
        state=state,
        raw_state=raw_state,
        remote_id=remote_id,
        created_at=timezone.now(),
        raw=raw or {},
    )


def _run(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_the_markers_and_the_json_become_the_state_and_the_columns(tenant_a, account_a):
    request = {"hash": "h" * 64, "action": {"play": "https://x.test/a"}, "timeout": 30}
    placing = _old_style(tenant_a, account_a, raw_state="placing", raw={"request": request})
    requested = _old_style(tenant_a, account_a, raw_state="requested", raw={"error": "old"})
    ringing = _old_style(tenant_a, account_a, state="ringing", raw_state="placing", remote_id="r-1")

    _run(migration.FORWARD)

    for call in (placing, requested, ringing):
        call.refresh_from_db()
    assert (placing.state, placing.raw_state, placing.request_hash) == ("placing", "", "h" * 64)
    assert placing.raw == {"request": {"action": {"play": "https://x.test/a"}, "timeout": 30}}
    assert (requested.state, requested.error, requested.raw) == ("requested", "old", {})
    assert (ringing.state, ringing.raw_state) == ("ringing", "placing")  # the provider's word, kept


def test_the_migration_goes_back_to_the_markers(tenant_a, account_a):
    call = _old_style(tenant_a, account_a, raw_state="placing", raw={"request": {"hash": "h", "timeout": 5}})
    _run(migration.FORWARD)

    _run(migration.BACKWARD)

    call.refresh_from_db()
    assert (call.state, call.raw_state, call.raw) == (
        "queued",
        "placing",
        {"request": {"hash": "h", "timeout": 5}},
    )
