"""Small helpers every dashboard view module builds on, with no domain knowledge: keyset
pages, htmx, filter form labels, query strings. (Tenant-scoped lookups are
accounts.tenancy's tenant_qs and tenant_object_or_404.)"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

PAGE_SIZE = 50


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@dataclass
class KeysetPage:
    items: list
    next_cursor: str | None


def _encode_cursor(moment: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{pk}".encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> tuple[datetime, int] | None:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        stamp, pk = text.rsplit("|", 1)
        moment = parse_datetime(stamp)
        return (moment, int(pk)) if moment else None
    except (ValueError, UnicodeDecodeError):
        return None


def keyset_page(qs: QuerySet, cursor: str | None, *, field: str = "created_at", size: int = PAGE_SIZE):
    """Newest first on (field, id) without OFFSET or COUNT(*): one index range scan per page."""
    qs = qs.order_by(f"-{field}", "-id")
    position = _decode_cursor(cursor) if cursor else None
    if position is not None:
        moment, pk = position
        qs = qs.filter(Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "id__lt": pk}))
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = _encode_cursor(getattr(rows[-1], field), rows[-1].pk) if more and rows else None
    return KeysetPage(rows, next_cursor)


def any_labels(form: forms.Form, label: str = "Any") -> None:
    """Filter forms read better with "Any" than django-filter's "---------"."""
    field: Any
    for field in form.fields.values():
        if getattr(field, "empty_label", None) is not None:
            field.empty_label = label
            # The widget holds its own copy of the choice iterator (deep-copied with the
            # form), bound to the class-level field: point it at this field again.
            if hasattr(field.widget, "choices"):
                field.widget.choices = field.choices
        choices = getattr(field, "choices", None)
        if isinstance(choices, list) and choices and choices[0][0] == "":
            field.choices = [("", label), *choices[1:]]


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string minus some keys (for "Older →" and export links)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()
