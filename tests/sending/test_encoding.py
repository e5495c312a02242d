"""GSM-7 vs UCS-2 and part counts, as handsets count them."""

from __future__ import annotations

import pytest

from messaging.encoding import sms_parts


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("€" * 80, ("gsm7", 1)),  # extension characters take two septets
        ("€" * 81, ("gsm7", 2)),
        ("å" * 70, ("gsm7", 1)),
        ("ö" * 161, ("gsm7", 2)),
        ("ł" * 70, ("ucs2", 1)),
        ("ł" * 71, ("ucs2", 2)),
        ("🙂" * 35, ("ucs2", 1)),  # two UTF-16 units each
        ("🙂" * 36, ("ucs2", 2)),
        ("x" * 153 * 3, ("gsm7", 3)),
    ],
    ids=lambda value: f"{value[0]}x{len(value)}" if isinstance(value, str) else None,
)
def test_encoding_and_part_count(body, expected):
    assert sms_parts(body) == expected
