"""Dashboard view helpers: a role check that answers 403 inside a tenant the user can see."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied


def scope_required(scope: str):
    """Decorator for tenant views: the user's role must grant `scope` (read/send/manage)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            access = getattr(request, "tenant_access", None)
            if access is None or not access.can(scope):
                raise PermissionDenied(f"Your role does not allow '{scope}' in this tenant.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
