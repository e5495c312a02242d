"""Write paths of provider accounts shared by the dashboard, the API and the admin:
connect, edit, enable/disable, delete, and subaccounts created or changed at the provider.

`validate_base_url` is the SSRF guard: a tenant admin chooses the URL our workers call, so
it must not reach our own network (private, loopback, link-local, metadata addresses). The
same classification (providers.netguard) is checked again on every connection, against DNS
rebinding.
"""

from __future__ import annotations

import re
import secrets
import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.models import Tenant
from core.queue import task as queue_task

from . import netguard
from .adapters import NotSupported, registry
from .adapters.records import Capability
from .adapters.registry import adapter_class
from .connect import open_adapter
from .importers import DISABLED_BY_USER, DISABLED_WITH_PARENT, upsert_subaccounts
from .models import ProviderAccount, SyncRun
from .netguard import LOCAL_HOSTS, METADATA_ADDRESSES, is_sandbox_url  # noqa: F401 (re-exported)

SYNC_INTERVAL_RANGE = (1, 24 * 60)  # minutes
SEND_RATE_RANGE = (0.01, 1000.0)  # messages per second
EDITABLE_FIELDS = frozenset(
    {"name", "base_url", "sync_interval", "send_rate", "sync_enabled", "usage_limit", "currency", "options"}
)


# -- base URL validation (SSRF guard) ---------------------------------------------------------
def validate_base_url(url: str) -> str:
    """The cleaned URL (no trailing slash), or ValidationError. Empty means the provider's
    real API. https to a public host only; http just for the sandbox and, in DEBUG, localhost."""
    url = (url or "").strip().rstrip("/")
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("Enter a valid URL, e.g. https://api.example.com/v1.") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("Enter an https URL, e.g. https://api.example.com/v1.")
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the credential fields, not in the URL.")
    if is_sandbox_url(url):
        return url
    if parts.scheme == "http":
        if settings.DEBUG and host in LOCAL_HOSTS:
            return url  # a developer's own provider simulator
        raise ValidationError("The provider's API must use https.")
    try:
        resolved = netguard.resolve(host, port or 443)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(f"Cannot resolve the host {host}.") from exc
    if netguard.any_refused(resolved):
        raise ValidationError(f"{host} points at a private or internal address; use a public host.")
    return url


# -- connecting and editing accounts ----------------------------------------------------------
def _validated_credentials(provider: str, credentials: dict[str, Any]) -> dict[str, str]:
    try:
        return adapter_class(provider).validate_credentials(credentials)
    except (ValueError, NotSupported) as exc:
        raise ValidationError({"credentials": [str(exc)]}) from exc


def _check_ranges(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "sync_interval" in fields:
        low, high = SYNC_INTERVAL_RANGE
        if not low <= int(fields["sync_interval"]) <= high:
            errors["sync_interval"] = [f"Between {low} and {high} minutes."]
    if "send_rate" in fields:
        low, high = SEND_RATE_RANGE
        if not low <= float(fields["send_rate"]) <= high:
            errors["send_rate"] = [f"Between {low} and {high:g} messages per second."]
    limit = fields.get("usage_limit")
    if limit is not None and Decimal(limit) < 0:
        errors["usage_limit"] = ["A limit cannot be negative."]
    if "name" in fields and not str(fields["name"]).strip():
        errors["name"] = ["A name is required."]
    if errors:
        raise ValidationError(errors)


def _base_url_for(provider: str, base_url: str) -> str:
    try:
        url = validate_base_url(base_url)
    except ValidationError as exc:
        raise ValidationError({"base_url": exc.messages}) from exc
    missing = adapter_class(provider).missing_base_url(url)
    if missing:
        raise ValidationError({"base_url": [missing]})
    return url


@transaction.atomic
def connect_account(
    tenant: Tenant,
    provider: str,
    name: str,
    credentials: dict[str, Any],
    *,
    base_url: str = "",
    options: dict[str, Any] | None = None,
    actor: Any = None,
    **fields: Any,
) -> ProviderAccount:
    """A new root account; ValidationError (by field) for a bad shape, URL or range."""
    if provider not in registry.codes():
        raise ValidationError({"provider": [f"Unknown provider {provider!r}."]})
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"connect_account() cannot set {', '.join(sorted(unknown))}")
    _check_ranges({"name": name, **fields})
    account = ProviderAccount(
        tenant=tenant,
        provider=provider,
        name=name.strip(),
        base_url=_base_url_for(provider, base_url),
        options=options or {},
        **fields,
    )
    account.set_credentials(_validated_credentials(provider, credentials))
    account.save()
    audit.record(tenant, actor, "provider_account.create", account, provider=provider)
    return account


@transaction.atomic
def update_account(
    account: ProviderAccount, *, credentials: dict[str, Any] | None = None, actor: Any = None, **fields: Any
) -> ProviderAccount:
    """Change the given fields; credentials are replaced only when given. The audit entry
    names the fields, never their values."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"update_account() cannot set {', '.join(sorted(unknown))}")
    refuse_if_deleting(account)
    _check_ranges(fields)
    changed = {k for k, v in fields.items() if getattr(account, k) != v}
    old_base_url = account.base_url
    if "base_url" in changed:
        fields["base_url"] = _base_url_for(account.provider, fields["base_url"])
        if fields["base_url"] == old_base_url:
            changed.discard("base_url")
    for key in changed:
        setattr(account, key, fields[key].strip() if key == "name" else fields[key])
    if credentials:
        account.set_credentials(_validated_credentials(account.provider, credentials))
        changed.add("credentials")
        if account.status == ProviderAccount.Status.ERROR:
            account.status = ProviderAccount.Status.ACTIVE  # new credentials get another try
    if not changed:
        return account
    account.save()
    if "base_url" in changed and not account.parent_id:
        # Subaccounts inherited the root's URL when imported; they move with it.
        account.subaccounts.filter(base_url=old_base_url).update(
            base_url=account.base_url, updated_at=timezone.now()
        )
    audit.record(account.tenant, actor, "provider_account.update", account, fields=sorted(changed))
    return account


# -- webhook secrets -----------------------------------------------------------------------------
WEBHOOK_SECRET = re.compile(r"[!-+\--~]{16,200}")  # printable ASCII, no spaces or commas


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def set_webhook_secret(
    account: ProviderAccount, secret: str | None = None, *, keep_previous: bool = True, actor: Any = None
) -> str:
    """Set (or, without `secret`, generate) the secret that signs this account's webhooks and
    return it: the caller shows it once; it is stored encrypted and never shown again. With
    `keep_previous`, signatures made with the old secret are still accepted for
    WEBHOOK_SECRET_GRACE_HOURS, while the provider's side is being changed."""
    refuse_if_deleting(account)
    secret = (secret or "").strip() or new_webhook_secret()
    if not WEBHOOK_SECRET.fullmatch(secret):
        raise ValidationError(
            {"secret": ["16 to 200 printable characters, without spaces or commas."]}, code="invalid"
        )
    grace = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS) if keep_previous else None
    rotated = bool(account.webhook_secret)
    account.set_webhook_secret(secret, keep_previous_until=grace)
    account.save(update_fields=["webhook_secret_encrypted", "updated_at"])
    audit.record(
        account.tenant,
        actor,
        "provider_account.webhook_secret",
        account,
        rotated=rotated,
        previous_accepted_until=account.webhook_secret_previous_until,
    )
    return secret


@transaction.atomic
def clear_webhook_secret(account: ProviderAccount, *, actor: Any = None) -> None:
    """Stop checking signatures (only the URL token is checked then)."""
    refuse_if_deleting(account)
    account.set_webhook_secret("")
    account.save(update_fields=["webhook_secret_encrypted", "updated_at"])
    audit.record(account.tenant, actor, "provider_account.webhook_secret_cleared", account)


@transaction.atomic
def set_account_enabled(account: ProviderAccount, enabled: bool, *, actor: Any = None) -> ProviderAccount:
    """Disabled accounts are neither synced nor used for sends; disabling a root disables
    its subaccounts with it (and enabling it brings back those, and only those). The user's
    decision is kept in options (DISABLED_BY_USER) so the next subaccount sync keeps it.
    An account being deleted is left as it is."""
    Status = ProviderAccount.Status
    list(ProviderAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk"))  # one at a time
    account.refresh_from_db(fields=["status", "options"])
    if account.status == Status.DELETING or (account.status == Status.DISABLED) != enabled:
        return account
    if enabled:
        account.options.pop(DISABLED_BY_USER, None)
        account.options.pop(DISABLED_WITH_PARENT, None)
        account.status = Status.ACTIVE
        account.save(update_fields=["status", "options", "updated_at"])
        children = account.subaccounts.filter(status=Status.DISABLED, options__has_key=DISABLED_WITH_PARENT)
        for child in children:
            child.options.pop(DISABLED_WITH_PARENT, None)
            child.status = Status.ACTIVE
            child.save(update_fields=["status", "options", "updated_at"])
    else:
        account.options = {**account.options, DISABLED_BY_USER: True}
        account.status = Status.DISABLED
        account.save(update_fields=["status", "options", "updated_at"])
        for child in account.subaccounts.exclude(status__in=[Status.DISABLED, Status.DELETING]):
            child.options = {**child.options, DISABLED_WITH_PARENT: True}
            child.status = Status.DISABLED
            child.save(update_fields=["status", "options", "updated_at"])
        _fail_queued_runs(account, "The account was disabled.")
    audit.record(
        account.tenant, actor, "provider_account.enable" if enabled else "provider_account.disable", account
    )
    return account


def _fail_queued_runs(account: ProviderAccount, reason: str) -> None:
    """A run already queued would still call the provider; end it here."""
    SyncRun.objects.filter(
        account__in=[account.pk, *account.subaccounts.values_list("pk", flat=True)],
        status=SyncRun.Status.QUEUED,
    ).update(status=SyncRun.Status.FAILED, error=reason, finished_at=timezone.now())


def refuse_if_deleting(account: ProviderAccount) -> None:
    if account.status == ProviderAccount.Status.DELETING:
        raise ValidationError("This account is being deleted.")


def deletion_summary(account: ProviderAccount) -> dict[str, int]:
    """What deleting the account takes with it, for the confirmation page."""
    return {
        "subaccounts": account.subaccounts.count(),
        "messages": account.messages.count(),
        "calls": account.calls.count(),
        "recordings": account.recordings.count(),
        "numbers": account.phone_numbers.count(),
    }


def delete_account(account: ProviderAccount, *, actor: Any = None) -> ProviderAccount:
    """Mark the account (and its subaccounts) `deleting` and queue tasks.delete_account_task,
    which removes everything synced through it in batches (a big account takes minutes, not
    a request). From the mark on it is neither synced nor sent through. Audited once;
    asking again only queues the task again (it is idempotent)."""
    Status = ProviderAccount.Status
    with transaction.atomic():
        list(ProviderAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk"))
        account.refresh_from_db(fields=["status", "updated_at"])
        if account.status != Status.DELETING:
            ProviderAccount.objects.filter(Q(pk=account.pk) | Q(parent_id=account.pk)).update(
                status=Status.DELETING, updated_at=timezone.now()
            )
            _fail_queued_runs(account, "The account is being deleted.")
            audit.record(
                account.tenant,
                actor,
                "provider_account.delete",
                account,
                provider=account.provider,
                id=account.pk,
            )
            account.refresh_from_db(fields=["status", "updated_at"])
        deleter = queue_task("providers.tasks.delete_account_task")
        transaction.on_commit(lambda: deleter.delay(account.pk))
    return account


# -- subaccounts: changed at the provider, stored through the importer -----------------------
@transaction.atomic
def create_subaccount(
    parent: ProviderAccount, name: str, usage_limit: Decimal | None = None, *, actor: Any = None
) -> ProviderAccount:
    """Create at the provider, then import. Adapter errors (ProviderError) pass through
    with the provider's message; NotSupported when the provider cannot."""
    if parent.parent_id:
        raise ValidationError({"parent": ["A subaccount cannot have subaccounts."]})
    refuse_if_deleting(parent)
    _check_ranges({"name": name, "usage_limit": usage_limit})
    parent.require(Capability.CREATE_SUBACCOUNT, "creating subaccounts")
    with open_adapter(parent) as adapter:
        record = adapter.create_subaccount(name.strip(), usage_limit)
    upsert_subaccounts(parent, [record])
    child = parent.subaccounts.get(remote_account_id=record.remote_id)
    audit.record(parent.tenant, actor, "subaccount.create", child, parent=parent.pk)
    return child


_UNCHANGED: Any = object()


@transaction.atomic
def update_subaccount(
    child: ProviderAccount,
    *,
    name: str | None = None,
    usage_limit: Any = _UNCHANGED,  # a Decimal, or None to clear
    actor: Any = None,
) -> ProviderAccount:
    """Change the name and/or limit at the provider (usage_limit=None clears the limit)."""
    parent = child.parent
    if parent is None:
        raise ValidationError("Only subaccounts are changed at the provider.")
    parent.require(Capability.UPDATE_SUBACCOUNT, "changing subaccounts")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name.strip()
    if usage_limit is not _UNCHANGED:
        # The adapter contract: "" clears the limit.
        changes["usage_limit"] = "" if usage_limit is None else usage_limit
    _check_ranges({k: v for k, v in changes.items() if v != ""})
    if not changes:
        return child
    with open_adapter(parent) as adapter:
        record = adapter.update_subaccount(child.remote_account_id, **changes)
    upsert_subaccounts(parent, [record])
    child.refresh_from_db()
    audit.record(child.tenant, actor, "subaccount.update", child, fields=sorted(changes))
    return child
