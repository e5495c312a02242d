"""Small builders shared by several test packages (fixtures stay in conftest.py)."""

from __future__ import annotations

from providers.models import ProviderAccount

CREDENTIALS = {
    "46elks": {"username": "u-main", "password": "p-main"},
    "callr": {"api_key": "callr-key"},
    "jambonz": {"api_key": "jz-token", "account_sid": "sid-root"},
    "sipcentric": {"username": "sc-user", "password": "sc-pw"},
}


def make_provider_account(tenant, provider: str = "46elks", **fields) -> ProviderAccount:
    """A saved root (or, with parent=, sub) account with credentials of the provider's shape;
    no network is involved."""
    fields.setdefault("name", f"{provider} main")
    fields.setdefault("currency", "SEK")
    account = ProviderAccount(tenant=tenant, provider=provider, **fields)
    account.set_credentials(CREDENTIALS[provider])
    account.save()
    return account
