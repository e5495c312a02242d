"""The one upsert rule messages and calls share (core.bulk): one status rank, with `unknown`
(and any status a table does not list) below every known status, and no write for a row
whose values would not change."""

from __future__ import annotations

import pytest
from django.db import connection

from calls.importers import upsert_calls
from calls.models import STATE_RANK, Call
from core.bulk import UNKNOWN_RANK, rank, rank_sql
from messaging.models import STATUS_RANK
from providers.adapters.records import CallState

from .factories import call

TABLES = {"messages": STATUS_RANK, "calls": STATE_RANK}


@pytest.mark.parametrize("ranks", TABLES.values(), ids=TABLES.keys())
def test_unknown_ranks_below_every_known_status(ranks):
    known = [status for status in ranks if status != "unknown"]

    assert rank(ranks, "unknown") == UNKNOWN_RANK
    assert all(rank(ranks, status) > UNKNOWN_RANK for status in known)


@pytest.mark.parametrize("ranks", TABLES.values(), ids=TABLES.keys())
def test_a_status_the_table_does_not_list_ranks_as_unknown(ranks):
    assert rank(ranks, "no-such-status") == rank(ranks, None) == UNKNOWN_RANK


@pytest.mark.parametrize("ranks", TABLES.values(), ids=TABLES.keys())
def test_the_sql_rank_is_the_python_rank(ranks, db):
    statuses = [*ranks, "no-such-status"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s, {rank_sql('s', ranks)} FROM unnest(%s::text[]) AS s",
            [statuses],
        )
        in_sql = dict(cursor.fetchall())

    assert in_sql == {status: rank(ranks, status) for status in statuses}


def _version(remote_id: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text, updated_at FROM calls_call WHERE remote_id = %s", [remote_id])
        return cursor.fetchone()


def test_a_call_report_that_changes_nothing_writes_nothing(account_a):
    upsert_calls(account_a, [call(1, CallState.COMPLETED)])
    before = _version("c1")

    result = upsert_calls(account_a, [call(1, CallState.COMPLETED)])

    assert _version("c1") == before
    assert (result.created, result.updated) == (0, 1)


def test_a_call_report_that_changes_a_value_is_written(account_a):
    upsert_calls(account_a, [call(1, CallState.RINGING)])
    before = _version("c1")

    upsert_calls(account_a, [call(1, CallState.COMPLETED)])

    assert _version("c1") != before
    assert Call.objects.get(remote_id="c1").state == "completed"


def test_an_unknown_call_state_gives_way_to_a_known_one(account_a):
    upsert_calls(account_a, [call(1, CallState.UNKNOWN)])

    upsert_calls(account_a, [call(1, CallState.QUEUED)])

    assert Call.objects.get(remote_id="c1").state == "queued"


def test_a_known_call_state_is_not_replaced_by_unknown(account_a):
    upsert_calls(account_a, [call(1, CallState.QUEUED)])

    upsert_calls(account_a, [call(1, CallState.UNKNOWN)])

    assert Call.objects.get(remote_id="c1").state == "queued"
