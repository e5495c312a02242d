"""The audit trail: `record(tenant, actor, action, obj, **data)` from any write path.

`actor` may be a User, an ApiKey, an `ApiKeyUser` (the API's principal) or a DRF request;
whichever it is, the entry names the user and/or key behind the action.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from core.db import RowInserter

from .models import ApiKey, AuditLog, Tenant, User

# Written by every send and most other writes: the INSERT is built once, not per row.
_INSERT = RowInserter(AuditLog)


def _principals(actor: Any) -> tuple[User | None, ApiKey | None]:
    if actor is None:
        return None, None
    if hasattr(actor, "user") and hasattr(actor, "auth"):  # a DRF request
        user, key = _principals(actor.auth if isinstance(actor.auth, ApiKey) else None)
        if isinstance(actor.user, User):
            user = actor.user
        return user, key
    if isinstance(actor, ApiKey):
        return None, actor  # the key acted, not whoever issued it
    if isinstance(actor, User):
        return actor, None
    key = getattr(actor, "key", None)  # ApiKeyUser
    if isinstance(key, ApiKey):
        return None, key
    return None, None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    # Decimal, datetime, UUID … become strings the way Django's JSON encoder writes them.

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def record(
    tenant: Tenant, actor: Any, action: str, obj: Any = None, summary: str = "", **data: Any
) -> AuditLog:
    return _INSERT.insert(entry(tenant, actor, action, obj, summary, **data))


def entry(
    tenant: Tenant, actor: Any, action: str, obj: Any = None, summary: str = "", **data: Any
) -> AuditLog:
    """The unsaved row `record` writes (for a write path that inserts it with its own
    statement)."""
    user, key = _principals(actor)
    return AuditLog(
        tenant=tenant,
        actor=user,
        api_key=key,
        action=action,
        object_type=obj._meta.label_lower if obj is not None and hasattr(obj, "_meta") else "",
        object_id=str(obj.pk) if obj is not None and getattr(obj, "pk", None) is not None else "",
        summary=(summary or (str(obj) if obj is not None else ""))[:300],
        data=_jsonable(data),
    )
