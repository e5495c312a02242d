"""What a typed phone number may contain before it is parsed: digits, spaces, a leading +,
and - ( ) . as separators. The parser (phonenumbers) would otherwise read `0701234567x` as a
number with an extension marker and accept it."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

PHONE_TEXT = re.compile(r"\(?\+?[0-9 ()\-.]+")


def phone_text_problem(value: str) -> str | None:
    """Why `value` cannot be a phone number as typed, or None when its characters are fine."""
    text = (value or "").strip()
    # Without a digit the parser refuses it anyway, with its own message.
    if any(c.isdigit() for c in text) and not PHONE_TEXT.fullmatch(text):
        return f"{text[:64]!r} is not a phone number: use digits, e.g. +46701234567."
    return None


def validate_phone_text(value: str) -> None:
    """A Django validator (forms and DRF serializers)."""
    problem = phone_text_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_phone")
