"""ProviderAccount rows connected to the sandbox, for the demo and the tests.

Each account gets credentials unique to it; the sandbox learns them (with a seed and a
history size) through `Sandbox.add_account` in-process or `POST /_sandbox/accounts`.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import Tenant
from sandbox.core import sim_class

from .models import ProviderAccount


def sandbox_credentials(provider: str, label: str) -> tuple[dict[str, str], str, str]:
    """(credentials, remote_account_id, webhook_secret) for a sandbox account called `label`."""
    return sim_class(provider).account_credentials(label)


@transaction.atomic
def connect_sandbox_account(
    tenant: Tenant,
    provider: str,
    sandbox_url: str,
    *,
    label: str,
    name: str = "",
    seed: int = 1,
    size: int = 200,
    **fields,
) -> ProviderAccount:
    """Create (or find, by label) a ProviderAccount pointing at the sandbox."""
    credentials, remote_id, secret = sandbox_credentials(provider, label)
    base_url = f"{sandbox_url.rstrip('/')}/{provider}{sim_class(provider).root}"
    account = (
        ProviderAccount.objects.for_tenant(tenant)
        .filter(provider=provider, options__sandbox_label=label)
        .first()
    )
    if account is None:
        account = ProviderAccount(tenant=tenant, provider=provider)
    account.name = name or f"{provider} sandbox"
    account.base_url = base_url
    account.remote_account_id = remote_id
    account.options = {**account.options, "sandbox_label": label, "sandbox_seed": seed, "sandbox_size": size}
    account.set_credentials(credentials)
    account.set_webhook_secret(secret)
    for key, value in fields.items():
        setattr(account, key, value)
    account.save()
    return account


def register_with_sandbox(sandbox, accounts, known: dict[int, str]) -> int:
    """Tell an in-process `Sandbox` about `accounts` it does not know yet, or whose webhook
    secret changed since (`known`: account id -> the stored secret it was registered with),
    so the simulator signs its webhooks with the secret the tenant set. Returns how many."""
    count = 0
    for account in accounts:
        if account.provider not in sandbox.sims or known.get(account.pk) == account.webhook_secret_encrypted:
            continue
        reg = sandbox_registration(account)
        sandbox.add_account(
            reg["provider"],
            reg["credentials"],
            remote_id=reg["remote_id"],
            seed=reg["seed"],
            size=reg["size"],
            webhook_base=reg["webhook_base"],
            webhook_secret=reg["webhook_secret"],
        )
        known[account.pk] = account.webhook_secret_encrypted
        count += 1
    return count


def sandbox_registration(account: ProviderAccount) -> dict:
    """What the sandbox needs to know of an account (the body of POST /_sandbox/accounts)."""
    return {
        "provider": account.provider,
        "credentials": account.credentials,
        "remote_id": account.remote_account_id,
        "seed": int(account.options.get("sandbox_seed", account.pk)),
        "size": int(account.options.get("sandbox_size", 200)),
        "webhook_base": account.webhook_url("x").rsplit("/x/", 1)[0],
        "webhook_secret": account.webhook_secret,
    }
