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
