"""Helpers for tests that need the database to misbehave for real."""

from __future__ import annotations

from django.db import connection, connections


def terminate_our_backend() -> int:
    """End this thread's Postgres backend from another connection, as a restart would;
    returns the ended backend's pid."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    return pid
