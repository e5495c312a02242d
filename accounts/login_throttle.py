"""Login throttling (django-axes): how a login attempt is named for counting failures."""

from __future__ import annotations


def login_username(request, credentials) -> str | None:
    """The email a login attempt is for, case- and space-insensitive (emails log in in any
    case), so `Boss@Acme.test` and `boss@acme.test` count against the same lockout."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return str(value).strip().lower() if value is not None else None
