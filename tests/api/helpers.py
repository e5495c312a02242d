from __future__ import annotations


def results(response) -> list[dict]:
    """The rows of a list response, paginated or not."""
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


def ids(response) -> set[int]:
    return {row["id"] for row in results(response)}
