"""Checks shared by every outbound request: numbers, the sending account, senders and
callers, and the idempotency rule. Each returns the problems it found (messages fit to show
a user); the caller gathers them per field into one `SendRejected`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

import phonenumbers
from django.db import IntegrityError, models

from accounts.models import Tenant
from core.db import RowReader
from numbers.models import PhoneNumber
from providers.adapters.records import Capability, MessageKind
from providers.ingest import owners
from providers.models import ProviderAccount

T = TypeVar("T")

__all__ = [
    "IdempotencyConflict",
    "SendRejected",
    "check_account",
    "check_caller",
    "check_idempotency_key",
    "check_sender",
    "held_number",
    "insert_once",
    "parse_number",
    "region_of",
    "replay",
    "request_hash",
    "stored_for_key",
]


class SendRejected(Exception):
    """Invalid input: every problem found, per field, each message fit to show a user."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {k: list(v) for k, v in errors.items() if v}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


class IdempotencyConflict(Exception):
    """The idempotency key was used before for a different request."""

    def __init__(self, key: str):
        super().__init__(f"Idempotency key {key!r} was already used for a different request.")
        self.key = key


# -- numbers ------------------------------------------------------------------------------------
def parse_number(value: str, region: str | None = None) -> str:
    """E.164, or ValueError with a message naming the value."""
    text = (value or "").strip()
    if not text:
        raise ValueError("A phone number is required.")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{text!r} is not a phone number; use international format, e.g. +46701234567."
        ) from None
    if parsed.extension:  # '0701234567x' or '… ext. 12': a message cannot dial an extension
        raise ValueError(f"{text!r} is not a phone number: it has an extension or stray letters.")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{text!r} is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def region_of(number: str) -> str | None:
    """The region of an E.164 number (recipients may then be given in national format)."""
    if not number.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or None
    except phonenumbers.NumberParseException:
        return None


# -- the account ----------------------------------------------------------------------------------
_WHAT = {
    Capability.SEND_SMS: "send SMS",
    Capability.SEND_MMS: "send MMS",
    Capability.PLACE_CALL: "place calls",
}


def check_account(tenant: Tenant, account: ProviderAccount | None, capability: Capability) -> list[str]:
    """Why this account cannot do it now (empty when it can)."""
    if account is None or account.tenant_id != tenant.pk:
        return ["Unknown provider account."]  # another tenant's account is not revealed
    problems = []
    if not tenant.active:
        problems.append("This tenant is not active.")
    if account.status != ProviderAccount.Status.ACTIVE:
        problems.append(f"Provider account {account.name} is {account.get_status_display().lower()}.")
    elif (parent := account.parent) is not None and parent.status != ProviderAccount.Status.ACTIVE:
        problems.append(f"The parent account of {account.name} is not active.")
    if not account.can(capability):
        what = _WHAT.get(capability, str(capability))
        problems.append(f"{account.adapter_class.name} accounts cannot {what}.")
    return problems


# Every send from a number looks it up: hand-written SQL, not an ORM query compiled anew.
_NUMBER = RowReader(PhoneNumber)


def held_number(tenant: Tenant, account: ProviderAccount, number: str) -> PhoneNumber | None:
    """The tenant's active number `number` at the account's root, if it holds it."""
    root, _ = owners(account)
    return _NUMBER.one(
        "tenant_id = %s AND provider_account_id = %s AND number = %s AND active",
        [tenant.pk, root.pk, number],
        order_by="id",
    )


# -- senders and callers ---------------------------------------------------------------------------
SENDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")


def _own_number(
    tenant: Tenant, account: ProviderAccount, value: str
) -> tuple[str, PhoneNumber | None, list[str]]:
    number = parse_number(value)  # ValueError for the caller to word
    ours = held_number(tenant, account, number)
    if ours is None:
        return number, None, [f"{number} is not a number you hold on {account.name}."]
    return number, ours, []


def check_sender(
    tenant: Tenant, account: ProviderAccount, sender: str, kind: str
) -> tuple[str, PhoneNumber | None, list[str]]:
    """(normalised sender, our number or None, problems) for a message of `kind`. A number
    the tenant holds at the provider always works; an alphanumeric sender id (3-11 letters
    and digits, a letter first) or a name the provider offers only where its adapter says so."""
    sender = (sender or "").strip()
    if not sender:
        return sender, None, ["A sender is required."]
    facts = account.adapter_class
    alphanumeric_ok = kind in facts.alphanumeric_sender_kinds
    if SENDER_ID.match(sender) and not sender.isdigit():
        if alphanumeric_ok or sender in facts.named_senders.get(kind, ()):
            return sender, None, []
        reason = "MMS" if kind == MessageKind.MMS else f"{facts.name} messages"
        return sender, None, [f"{reason} must be sent from a number you hold, not a sender id."]
    try:
        return _own_number(tenant, account, sender)
    except ValueError:
        rule = (
            "a sender id of 3-11 letters and digits starting with a letter, or a number you hold"
            if alphanumeric_ok
            else "a number you hold at this provider, in international format"
        )
        return sender, None, [f"{sender!r} is not a valid sender: use {rule}."]


def check_caller(
    tenant: Tenant, account: ProviderAccount, value: str
) -> tuple[str, PhoneNumber | None, list[str]]:
    """(caller, our number or None, problems): a number the tenant holds, or whatever the
    provider's `caller_pattern` accepts (e.g. a PBX endpoint)."""
    value = (value or "").strip()
    pattern = account.adapter_class.caller_pattern
    if pattern and re.fullmatch(pattern, value):
        return value, None, []
    try:
        return _own_number(tenant, account, value)
    except ValueError as exc:
        return value, None, [str(exc)]


# -- idempotency ---------------------------------------------------------------------------------
def request_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of a request, to tell a replay (same key, same request) from a conflict."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


MAX_KEY_LENGTH = 128


def check_idempotency_key(key: str | None) -> list[str]:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        return [f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters."]
    return []


def replay(existing: Any, new_hash: str, key: str | None) -> Any:
    """The row stored the first time for this key; IdempotencyConflict when the request
    differs from the one it was stored for."""
    if existing.request_hash != new_hash:
        raise IdempotencyConflict(key or "")
    return existing


def stored_for_key(model: type[models.Model], tenant: Tenant, key: str | None, new_hash: str) -> Any | None:
    """The row stored earlier under this key (the same request: its replay), or None;
    IdempotencyConflict when the key was used for another request."""
    if not key:
        return None
    existing = cast(Any, model).objects.for_tenant(tenant).filter(idempotency_key=key).first()
    return None if existing is None else replay(existing, new_hash, key)


def insert_once(
    insert: Callable[[], T],
    *,
    release: Callable[[], None],
    model: type[models.Model],
    tenant: Tenant,
    key: str | None,
    new_hash: str,
) -> T:
    """Store the new row (`insert`, its own transaction). When storing fails the limits
    reservation is given back (`release`), and a concurrent request that won the key's
    unique constraint gives its row instead (or the conflict)."""
    try:
        return insert()
    except IntegrityError:
        release()
        existing = stored_for_key(model, tenant, key, new_hash)
        if existing is None:
            raise
        return cast(T, existing)
    except BaseException:
        release()
        raise
