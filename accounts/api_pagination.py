"""Keyset pagination for every list endpoint: opaque cursors over ("-created_at", "-id").

Pages stay stable while rows arrive (a new row sorts before the cursor, so it never shifts
later pages) and no page ever runs COUNT(*). A view whose rows carry their time under
another name sets `cursor_ordering`, e.g. ("-received_at", "-id").
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_ordering(self, request, queryset, view):
        return tuple(getattr(view, "cursor_ordering", self.ordering))
