"""Building blocks for the API's django-filter FilterSets.

`TenantFilterSet` scopes the choices of every model-choice filter to the caller's tenant,
so a foreign id in `?provider_account=` is a 400 ("not one of the available choices") and
never widens a query. `created_after` / `created_before` take ISO 8601 instants.
"""

from __future__ import annotations

from datetime import UTC

import django_filters
import django_filters.rest_framework
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework import exceptions

from .models import AuditLog

MODEL_CHOICE_FILTERS = (django_filters.ModelChoiceFilter, django_filters.ModelMultipleChoiceFilter)


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 instant, converted to UTC here: Postgres refuses offsets past ±15:59 and
    far-off years must be a 400, not a database error."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Enter a date and time within the supported range.") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class OptionalMultipleChoiceField(django_filters.fields.MultipleChoiceField):
    """A multiple choice whose empty values mean "any": `?status=` (what a form sends when
    its select is left at "Any") and `?status=&status=failed` are not errors."""

    def to_python(self, value):
        return [v for v in super().to_python(value) if v != ""]


class OptionalMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = OptionalMultipleChoiceField


def tenant_choices(model: type[Model] | str, **filters):
    """A callable queryset for ModelChoiceFilter: the model's rows of the request's tenant.
    `model` may be an "app.Model" label, so sibling apps need not import each other."""

    def queryset(request) -> QuerySet:
        cls = apps.get_model(model) if isinstance(model, str) else model
        tenant = getattr(request, "tenant", None)
        if tenant is None:  # schema generation, or an unauthenticated call
            return cls.objects.none()
        return cls.objects.for_tenant(tenant).filter(**filters)

    return queryset


class TenantFilterSet(django_filters.rest_framework.FilterSet):
    created_after = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601, e.g. 2026-01-31T00:00:00Z."
    )
    created_before = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601, exclusive."
    )

    @classmethod
    def filter_for_field(cls, field, field_name, lookup_expr=None):
        # `filterset_fields = ["provider_account"]` gets a tenant-scoped choice filter too:
        # otherwise a foreign id would be "valid" and its existence revealed by a 200 vs 400.
        related = field.related_model if field.is_relation else None
        if related is not None and hasattr(related.objects, "for_tenant") and lookup_expr in (None, "exact"):
            return TenantChoiceFilter(related, field_name=field_name)
        return super().filter_for_field(field, field_name, lookup_expr)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, filter_ in self.filters.items():
            # A model-choice filter generated from an FK would accept every tenant's rows
            # as valid choices: refuse it loudly instead.
            if isinstance(filter_, MODEL_CHOICE_FILTERS) and not getattr(filter_, "tenant_scoped", False):
                raise TypeError(f"{type(self).__name__}.{name} must be a TenantChoiceFilter")


class TenantChoiceFilter(django_filters.ModelChoiceFilter):
    """A ModelChoiceFilter whose choices are the tenant's own rows of `model`."""

    tenant_scoped = True

    def __init__(self, model: type[Model] | str, *, scope: dict | None = None, **kwargs):
        self.model_ref = model  # the isolation tests feed it a foreign tenant's row
        kwargs.setdefault("queryset", tenant_choices(model, **(scope or {})))
        super().__init__(**kwargs)


class AuditLogFilter(TenantFilterSet):
    class Meta:
        model = AuditLog
        fields = ["action", "object_type", "object_id"]


def number_query(value: str, *fields: str) -> Q | None:
    """Q matching a phone number as a prefix of any of `fields` (index-friendly), or None
    when `value` is not a number."""
    compact = value.replace(" ", "").replace("-", "")
    if not compact.lstrip("+").isdigit():
        return None
    query = Q()
    for field in fields:
        query |= Q(**{f"{field}__startswith": compact})
    return query


class TenantFilterBackend(django_filters.rest_framework.DjangoFilterBackend):
    """The default filter backend of tenant-scoped viewsets: FilterSets generated from
    `filterset_fields` are TenantFilterSets.

    A value that does not fit the filter's documented type is a 400 in the API, not
    silently "no filter": an empty value for anything but free text (`?created_after=`),
    a boolean other than true/false (`?active=null`), a number that is not whole."""

    filterset_base = TenantFilterSet

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            problems = {}
            for name, filter_ in filterset.filters.items():
                for value in request.query_params.getlist(name, []):
                    problem = _typed_value_problem(filter_, value)
                    if problem:
                        problems[name] = [problem]
            if problems:
                raise exceptions.ValidationError(problems)
        return filterset


def _typed_value_problem(filter_: django_filters.Filter, value: str) -> str | None:
    if isinstance(filter_, django_filters.CharFilter):
        return None
    if value == "":
        return "Give a value, or leave the parameter out."
    if isinstance(filter_, django_filters.BooleanFilter) and value.lower() not in ("true", "false"):
        return "true or false."
    if isinstance(filter_, django_filters.NumberFilter) and not value.lstrip("-").isdigit():
        return "A whole number."
    return None
