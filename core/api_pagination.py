"""Keyset pagination for every list endpoint: opaque cursors over ("-created_at", "-id").

Pages stay stable while rows arrive (a new row sorts before the cursor, so it never shifts
later pages) and no page ever runs COUNT(*). A view whose rows carry their time under
another name sets `cursor_ordering`, e.g. ("-received_at", "-id").

A cursor we did not hand out, or a `page_size` that is not a whole number ≥ 1, is a 400 naming the
parameter (never a 500 from the database, never silently ignored).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = "Invalid cursor; follow the `next` and `previous` links as given."

    def get_ordering(self, request, queryset, view):
        return tuple(getattr(view, "cursor_ordering", self.ordering))

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number, 1 or more."]})
        return min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            self._invalid()
        if cursor is not None and cursor.position is not None:
            cursor = cursor._replace(position=self._checked_position(cursor.position))
        return cursor

    def _invalid(self):
        raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def _checked_position(self, position: str) -> str:
        """The cursor's position as the database takes it: a value of the first ordering
        field (times in UTC: Postgres refuses offsets past ±15:59), or a 400."""
        if "\x00" in position:
            self._invalid()
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation, e.g. a conversation's last_activity_at
            field = models.DateTimeField() if name.endswith("_at") else None
        if field is None:
            return position
        try:
            value = field.to_python(position)
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    self._invalid()
                return value.astimezone(UTC).isoformat()
        except (DjangoValidationError, ValueError, OverflowError):
            self._invalid()
        return position

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Rows per page, 1 or more; more than {self.max_page_size} is capped."
                )
        return parameters
