"""Statements through core.db.prepared_cursor are bound on the server and prepared once per
connection; their results and errors are those of a plain cursor."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from core.db import prepared_cursor

pytestmark = pytest.mark.django_db

PROBE = "SELECT %s::int + 1, 'prepared-cursor-probe'"


def _prepared(statement_fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{statement_fragment}%"]
        )
        return cursor.fetchone()[0]


def test_a_statement_is_prepared_once_and_reused():
    for value in (1, 2, 3):
        with prepared_cursor() as cursor:
            cursor.execute(PROBE, [value])
            assert cursor.fetchone() == (value + 1, "prepared-cursor-probe")
    assert _prepared("prepared-cursor-probe") == 1


def test_its_queries_are_in_the_query_log():
    for value in (5, 6):  # prepared by the first, run as prepared by the second
        with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
            cursor.execute(PROBE, [value])
        assert ["prepared-cursor-probe" in q["sql"] for q in queries.captured_queries] == [True]


def test_database_errors_are_djangos():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_probe (id int PRIMARY KEY)")
    with prepared_cursor() as cursor:
        cursor.execute("INSERT INTO prepared_probe (id) VALUES (%s)", [1])
    with pytest.raises(IntegrityError), prepared_cursor() as cursor:
        cursor.execute("INSERT INTO prepared_probe (id) VALUES (%s)", [1])


def test_a_page_write_statement_is_prepared_once_and_reused():
    from core.bulk import fetch_prepared

    for value in (1, 2, 3):
        rows = fetch_prepared("SELECT %s::int * 2, 'page-write-probe'", [value])
        assert rows == [(value * 2, "page-write-probe")]
    assert _prepared("page-write-probe") == 1
