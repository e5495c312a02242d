"""JSON from outside, bounded (provider webhooks and API bodies alike): thousands of nested
brackets are a clear ValueError, not a RecursionError deep inside a parser. Plain Python,
so the Django-free adapters may use it."""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads that refuses (ValueError) documents nested deeper than `max_depth`,
    instead of a RecursionError on thousands of brackets."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("JSON is nested too deeply.") from None
    if json_depth(value) > max_depth:
        raise ValueError(f"JSON is nested deeper than {max_depth} levels.")
    return value
