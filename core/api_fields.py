"""Serializer fields the API shares."""

from __future__ import annotations

from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` / `false` only. DRF's BooleanField also takes 1, "yes", "on" …, which the
    schema does not promise; an API body says what it means."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


def require_strings_for_char_fields() -> None:
    """Every API text field (CharField and its kin: email, URL, slug, regex) takes a JSON
    string only. DRF would turn `"currency": 0` into "0"; the schema says string, so a
    number or a boolean is a 400 like any other type mismatch. Called once at start-up."""
    char_to_internal = serializers.CharField.to_internal_value
    if getattr(char_to_internal, "strict", False):
        return

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return char_to_internal(self, data)

    to_internal_value.strict = True  # type: ignore[attr-defined]
    serializers.CharField.to_internal_value = to_internal_value  # type: ignore[method-assign]
