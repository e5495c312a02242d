"""The subaccount importer, and small helpers the domain importers share: resolving the
owning (root, subaccount) pair for records and serializing writers per account."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from .adapters.records import RemoteSubaccount
from .importing import UpsertResult, owners
from .models import ProviderAccount

# Keys that are credentials wherever a provider puts them; never copied into stored raw JSON.
SECRET_KEYS = frozenset({"secret", "password", "api_key", "apikey", "token", "auth_token", "hmac_secret"})
# Option keys a subaccount inherits from its parent (network rules, not identity).
INHERITED_OPTIONS = ("allowed_ips", "currency")
# A user's decision to disable (set by providers.services.set_account_enabled): a sync
# never overrides it with the provider's "active". Cleared by enabling.
DISABLED_BY_USER = "disabled_by_user"
# Set on subaccounts disabled because their root was, so enabling the root restores them.
DISABLED_WITH_PARENT = "disabled_with_parent"


def lock_account(account_id: int, namespace: int) -> None:
    """Serialize writers of one account's rows (a sync page and a webhook) until commit, so
    read-then-write rollup deltas cannot interleave."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, account_id])


def to_json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def scrub(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if str(k).lower() not in SECRET_KEYS}


def owner_ids(
    account: ProviderAccount, subaccount_remote_ids: Iterable[str]
) -> tuple[int, dict[str, int | None]]:
    """(root id, {subaccount_remote_id: subaccount id}) for records fetched through `account`.
    Records of a subaccount's own history name no subaccount and get the account itself;
    records a root lists for its children resolve by remote id (unknown ones: None)."""
    root, sub = owners(account)
    wanted = {r for r in subaccount_remote_ids if r}
    mapping: dict[str, int | None] = {"": sub.pk if sub else None}
    if wanted:
        found = dict(
            ProviderAccount.objects.filter(parent=root, remote_account_id__in=wanted).values_list(
                "remote_account_id", "id"
            )
        )
        for remote_id in wanted:
            mapping[remote_id] = found.get(remote_id, sub.pk if sub else None)
    return root.pk, mapping


def _child_identity(parent: ProviderAccount, child: ProviderAccount, record: RemoteSubaccount) -> None:
    """Credentials and options that make the child act as the subaccount."""
    if record.credentials:
        child.set_credentials(record.credentials)
        return
    # No own credentials: the parent's, pointed at the child as the provider says.
    identity = parent.adapter_class.subaccount_identity(lambda: parent.credentials, record.remote_id)
    if identity.unusable:
        if child._state.adding:
            child.credentials_encrypted = parent.credentials_encrypted
            child.sync_enabled = False
            child.last_error = identity.unusable
        return
    if identity.credentials is None:
        child.credentials_encrypted = parent.credentials_encrypted
    else:
        child.set_credentials(identity.credentials)
    child.options = {**(child.options or {}), **identity.options}


def _set_status(child: ProviderAccount, record: RemoteSubaccount) -> None:
    """The provider's active/inactive, except where our side decided: a user's disable (of
    the child or of its root) holds, a deletion stays one, and an account we marked as
    failing keeps that mark until it works again. Name, usage and limit are updated anyway."""
    Status = ProviderAccount.Status
    held = (child.options or {}).keys() & {DISABLED_BY_USER, DISABLED_WITH_PARENT}
    if child.status == Status.DELETING:
        return
    if not record.active or held:
        child.status = Status.DISABLED
    elif child.status == Status.DISABLED or child._state.adding:
        child.status = Status.ACTIVE


@transaction.atomic
def upsert_subaccounts(account: ProviderAccount, records: Sequence[RemoteSubaccount]) -> UpsertResult:
    """Child ProviderAccount rows for the subaccounts listed by `account` (a root). Few per
    account, so a loop; each child keeps its own webhook token and sync schedule."""
    root, _ = owners(account)
    existing = {
        child.remote_account_id: child
        for child in ProviderAccount.objects.filter(
            parent=root, remote_account_id__in=[r.remote_id for r in records]
        )
    }
    result = UpsertResult()
    for record in records:
        child = existing.get(record.remote_id)
        if child is None:
            child = ProviderAccount(
                tenant_id=root.tenant_id,
                provider=root.provider,
                parent=root,
                remote_account_id=record.remote_id,
                base_url=root.base_url,
                options={k: root.options[k] for k in INHERITED_OPTIONS if k in (root.options or {})},
                sync_interval=root.sync_interval,
                send_rate=root.send_rate,
            )
            child.webhook_secret_encrypted = root.webhook_secret_encrypted
            result.created += 1
        else:
            result.updated += 1
        child.name = (record.name or record.remote_id)[:120]
        child.usage = record.usage
        child.usage_limit = record.usage_limit
        child.currency = record.currency or child.currency or root.currency
        _set_status(child, record)
        child.remote_payload = scrub(record.raw)
        _child_identity(root, child, record)
        child.save()
        existing[record.remote_id] = child
    return result
