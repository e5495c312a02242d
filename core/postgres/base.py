"""Django's PostgreSQL backend, with one change: the per-request health check
(CONN_HEALTH_CHECKS) of an idle connection looks at its socket instead of running
`SELECT 1` (a round trip on every request, a tenth of a webhook's database work).

An idle connection has nothing to read: Postgres sends nothing unasked. When the server
ends a connection (a restart, a crash, `pg_terminate_backend`, a dropped socket) it sends
its last error and closes the socket, which makes it readable. So: not readable → usable;
readable, or not idle → Django's own `SELECT 1` decides.

Also: a statement executed as a prepared statement (core.db.prepared_cursor) is logged
with its SQL as written; psycopg keeps no query text for it."""

from __future__ import annotations

import select

from django.db.backends.postgresql import base, operations
from psycopg.pq import TransactionStatus


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        return super().last_executed_query(cursor, sql, params) or sql


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self) -> bool:
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if raw.info.transaction_status == TransactionStatus.IDLE:
            try:
                readable, _, _ = select.select([raw.fileno()], [], [], 0)
            except (OSError, ValueError):
                return False
            if not readable:
                return True
        return super().is_usable()
