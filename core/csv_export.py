"""Streamed CSV, in one place: dashboard exports, admin actions and statements.

Rows are written while the client reads (a filtered million-row export is never built in
memory), and text a spreadsheet would run as a formula is quoted (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

Column = tuple[str, Callable[[Any], Any]]


class _Echo:
    def write(self, value: str) -> str:
        return value


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not value[1:].isdigit():
        return "'" + value  # "+4670…" and "-12" stay numbers; "=HYPERLINK(…)" becomes text
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def admin_csv_action(name: str, columns: Sequence[Column], select_related: Sequence[str] = ()):
    """An admin action exporting the selection (iterated in chunks) as a streamed CSV."""

    @admin.action(description=f"Export selected {name} as CSV")
    def export_csv(modeladmin: admin.ModelAdmin, request, queryset: QuerySet) -> StreamingHttpResponse:
        queryset = queryset.select_related(*select_related).order_by(*queryset.model._meta.ordering, "pk")
        rows = ([get(obj) for _, get in columns] for obj in queryset.iterator(chunk_size=2000))
        return csv_response(f"{name}-{timezone.now():%Y%m%d-%H%M%S}.csv", [h for h, _ in columns], rows)

    return export_csv
