"""Write paths of phone numbers at the provider, shared by the API and the dashboard:
allocate, configure (webhook routing, name), release, and routing a number's webhooks to
Switchboard. Each goes through the adapter, then the numbers importer with the record the
provider answers (one write path for the table), then the audit trail.

Errors: Django `ValidationError` for bad input (by field); the adapter's `ProviderError`
subclasses otherwise, their message rewritten to say what was refused and by whom —
`NotSupported` when the provider cannot do it at all."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import audit
from accounts.models import Tenant
from providers.adapters.base import Adapter
from providers.adapters.errors import AuthFailed, NotSupported, ProviderError, RateLimited, Unavailable
from providers.adapters.records import Capability, NumberConfig, RemoteNumber
from providers.connect import open_adapter
from providers.importing import owners
from providers.models import ProviderAccount

from .importers import upsert_numbers
from .models import Capability as NumberCapability
from .models import PhoneNumber

URL_FIELDS = ("sms_url", "mms_url", "voice_url")
CONFIG_FIELDS = tuple(f.name for f in dataclass_fields(NumberConfig))
MAX_NAME = 50  # the shortest limit among the providers that name numbers
# The webhook kind of ours that receives what each routing field points at.
ROUTE_KINDS = {"sms_url": "sms", "mms_url": "mms", "voice_url": "voice"}


def _acting_account(number: PhoneNumber) -> ProviderAccount:
    # A subaccount's number is changed with the subaccount's own credentials.
    return number.subaccount or number.provider_account


@contextmanager
def _at_provider(account: ProviderAccount, what: str) -> Iterator[Adapter]:
    """The adapter of `account`; its errors come out with a message a user can act on."""
    name = account.adapter_class.name
    try:
        with open_adapter(account) as adapter:
            yield adapter
    except ProviderError as exc:
        if isinstance(exc, NotSupported):
            message = exc.message
        elif isinstance(exc, AuthFailed):
            message = f"{name} refused the account's credentials while {what}; check them on the account."
        elif isinstance(exc, RateLimited):
            message = f"{name} is limiting our requests; try {what} again in a moment."
        elif isinstance(exc, Unavailable):
            message = f"{name} did not answer while {what}; nothing was confirmed, try again."
        else:
            message = f"{name} refused {what}: {exc.message}"
        exc.message = message
        exc.args = (message,)
        raise


def _import(account: ProviderAccount, record: RemoteNumber) -> PhoneNumber:
    upsert_numbers(account, [record])
    root, _ = owners(account)
    return (
        PhoneNumber.objects.for_tenant(root.tenant_id)
        .select_related("provider_account", "subaccount")
        .get(provider_account=root, remote_id=record.remote_id)
    )


def _apply(
    number: PhoneNumber,
    what: str,
    call: Callable[[Adapter], RemoteNumber],
    *,
    actor: Any,
    action: str,
    **data: Any,
) -> PhoneNumber:
    """The provider call outside any transaction; its answer and the audit entry in one."""
    account = _acting_account(number)
    with _at_provider(account, what) as adapter:
        record = call(adapter)
    with transaction.atomic():
        updated = _import(account, record)
        audit.record(updated.tenant, actor, action, updated, **data)
    return updated


# -- allocate -----------------------------------------------------------------------------------
def allocate_number(
    tenant: Tenant,
    account: ProviderAccount,
    country: str,
    capabilities: list[str],
    created_by: Any = None,
) -> PhoneNumber:
    """Rent a new number in `country` (ISO code) with the given capabilities at `account`
    (a root or a subaccount of the tenant)."""
    if account is None or account.tenant_id != tenant.pk:
        raise ValidationError({"provider_account": ["Unknown provider account."]})
    account.require(Capability.ALLOCATE_NUMBER, "allocating numbers through its API")
    errors: dict[str, list[str]] = {}
    country = (country or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        errors["country"] = ["Give the two-letter ISO country code, e.g. SE."]
    known = {c.value for c in NumberCapability}
    wanted = sorted({str(c).strip().lower() for c in capabilities or []})
    if not wanted or any(c not in known for c in wanted):
        errors["capabilities"] = [f"Choose one or more of {', '.join(sorted(known))}."]
    if errors:
        raise ValidationError(errors)
    with _at_provider(account, "allocating a number") as adapter:
        record = adapter.allocate_number(country, wanted)
    with transaction.atomic():
        number = _import(account, record)
        audit.record(tenant, created_by, "number.allocate", number, country=country, capabilities=wanted)
    return number


# -- configure ----------------------------------------------------------------------------------
def _is_web_url(value: str) -> bool:
    # Not URLValidator: a host without a dot (an intranet name, `testserver`) is a fine target.
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not re.search(r"\s", value)


def _clean_config(config: NumberConfig) -> NumberConfig:
    errors: dict[str, list[str]] = {}
    values: dict[str, str | None] = {}
    for name in CONFIG_FIELDS:
        value = getattr(config, name)
        if value is not None:
            value = str(value).strip()
        values[name] = value
        if not value:
            continue  # None leaves the field alone, "" clears it
        if name in URL_FIELDS and not _is_web_url(value):
            errors[name] = ["Enter an http(s) URL, or an empty value to clear it."]
        elif name == "name" and len(value) > MAX_NAME:
            errors[name] = [f"At most {MAX_NAME} characters."]
    if all(v is None for v in values.values()):
        raise ValidationError(f"Give at least one of {', '.join(CONFIG_FIELDS)}.")
    if errors:
        raise ValidationError(errors)
    return NumberConfig(**values)


def configure_number(number: PhoneNumber, config: NumberConfig, *, actor: Any = None) -> PhoneNumber:
    """Change the number's webhook routing and/or name at the provider. In `config`, None
    leaves a field alone and "" clears it."""
    _acting_account(number).require(Capability.CONFIGURE_NUMBER, "configuring numbers through its API")
    config = _clean_config(config)
    if not number.active:
        raise ValidationError("This number has been released; it cannot be configured.")
    return _apply(
        number,
        "configuring the number",
        lambda adapter: adapter.configure_number(number.remote_id, config),
        actor=actor,
        action="number.configure",
        fields=sorted(name for name in CONFIG_FIELDS if getattr(config, name) is not None),
    )


def switchboard_routing(number: PhoneNumber) -> NumberConfig:
    """The routing that sends the number's inbound SMS, MMS and calls to our webhooks (those
    of the account that holds it), for the kinds its provider reports per number."""
    account = _acting_account(number)
    kinds = account.adapter_class.webhook_kinds
    urls = {name: account.webhook_url(kind) for name, kind in ROUTE_KINDS.items() if kind in kinds}
    if not urls:
        raise NotSupported(f"{account.adapter_class.name} numbers are not routed by URL.")
    return NumberConfig(**urls)


def route_to_switchboard(number: PhoneNumber, *, actor: Any = None) -> PhoneNumber:
    """Point the number's webhooks at Switchboard (a configure_number with our URLs)."""
    _acting_account(number).require(Capability.CONFIGURE_NUMBER, "configuring numbers through its API")
    return configure_number(number, switchboard_routing(number), actor=actor)


# -- release ------------------------------------------------------------------------------------
def release_number(number: PhoneNumber, *, actor: Any = None) -> PhoneNumber:
    """Give the number back to the provider; the row stays (history points at it), inactive.
    Releasing a released number changes nothing."""
    _acting_account(number).require(Capability.RELEASE_NUMBER, "releasing numbers through its API")
    if not number.active:
        return number
    return _apply(
        number,
        "releasing the number",
        lambda adapter: adapter.release_number(number.remote_id),
        actor=actor,
        action="number.release",
    )
