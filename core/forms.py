"""Form helpers with no domain knowledge."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(
    form: forms.Form, exc: Exception, field_names: Mapping[str, str] | None = None
) -> None:
    """A service's refusal onto the form, under the field it is about when the form has one.

        A Django ValidationError keeps its fields as they are (unknown ones go on top of the
        form). An exception with an `errors` dict ({field: [problem, …]}, e.g. a send's
        SendRejected) is mapped through `field_names` when given (service field -> form field,
    nothing else); a problem
        about a field the form lacks goes on top, saying which field. Anything else is one
        message on top of the form."""
    if isinstance(exc, ValidationError):
        if not hasattr(exc, "error_dict"):
            form.add_error(None, exc)
            return
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    problems_by_field = getattr(exc, "errors", None)
    if not isinstance(problems_by_field, dict):
        form.add_error(None, getattr(exc, "message", None) or str(exc))
        return
    for field, problems in problems_by_field.items():
        target = field if field_names is None else field_names.get(field)
        for problem in problems:
            if target in form.fields:
                form.add_error(target, problem)
            else:  # e.g. the reply box has no "to": say which field the problem is about
                form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {problem}")
