"""The per-request health check of a kept connection (core.postgres): no round trip while
the connection is idle and healthy; a connection the server ended is found unusable."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from tests.database import terminate_our_backend

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_database_uses_the_project_backend():
    assert type(connections["default"]).__module__ == "core.postgres.base"


def test_an_idle_healthy_connection_is_usable_without_a_query():
    _backend_pid()
    with CaptureQueriesContext(connection) as queries:
        assert connection.is_usable()
    assert queries.captured_queries == []
    assert connection.connection.info.transaction_status.name == "IDLE"


def test_a_connection_the_server_ended_is_unusable():
    _backend_pid()
    pid = terminate_our_backend()
    deadline = time.monotonic() + 5  # the server closes the socket as the backend exits
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable()
    connection.close()
    assert _backend_pid() != pid  # the next query opens a new connection
