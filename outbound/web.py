"""What the send endpoints of messages and calls share on the web side: the API's mapping
of a refused send to an error response and its OpenAPI parts, and where a refusal shows
on a dashboard form."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request

from accounts.models import Tenant, User
from billing.limits import LimitExceeded
from core.api_errors import Conflict, ErrorSerializer, Unprocessable
from core.db import RowReader
from core.forms import add_service_errors
from providers.models import ProviderAccount

from .checks import IdempotencyConflict, SendRejected

# -- the API -----------------------------------------------------------------------------------
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Up to 128 characters. The same key with the same request returns the first "
    "result (202); with a different request it is a 409.",
)
ERROR_409 = OpenApiResponse(ErrorSerializer, description="The idempotency key was used for another request.")
ERROR_422 = OpenApiResponse(ErrorSerializer, description="A usage limit blocks it; the message says which.")


def send_actor(request: Request) -> Any:
    """(created_by, actor for the audit): the session user, or the API key that acted."""
    return request.user if isinstance(request.user, User) else request.auth


# Every send looks its account up: hand-written SQL, not an ORM query Django would compile
# anew each time. The tenant filter is explicit here, and row-level security applies too.
_ACCOUNT = RowReader(ProviderAccount)


def account_of(tenant: Tenant, account_id: int) -> ProviderAccount:
    account = _ACCOUNT.one("tenant_id = %s AND id = %s", [tenant.pk, account_id])
    if account is None:  # another tenant's account is not revealed
        raise exceptions.ValidationError({"provider_account": ["Unknown provider account."]})
    return account


@contextmanager
def send_errors() -> Iterator[None]:
    """Sending's refusals as API errors: 400 with fields, 409 on a key conflict, 422 on limits."""
    try:
        yield
    except SendRejected as exc:
        raise exceptions.ValidationError(exc.errors) from None
    except IdempotencyConflict as exc:
        raise Conflict(str(exc)) from None
    except LimitExceeded as exc:
        raise Unprocessable(exc.message) from None


# -- the dashboard -------------------------------------------------------------------------------
# What a send may refuse with; a form shows it (add_send_errors) instead of failing.
SEND_ERRORS = (SendRejected, LimitExceeded, IdempotencyConflict)
# Service field names -> form field names, so a rejection shows under the right input.
SEND_FORM_FIELDS = {
    "from": "from_number",
    "from_number": "from_number",
    "to": "to",
    "body": "body",
    "account": "account",
}


def add_send_errors(form: forms.Form, exc: Exception) -> None:
    add_service_errors(form, exc, SEND_FORM_FIELDS)
