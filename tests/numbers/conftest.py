from __future__ import annotations

import pytest

from providers.models import ProviderAccount


def make_account(tenant, provider: str = "46elks", **fields) -> ProviderAccount:
    account = ProviderAccount(
        tenant=tenant, provider=provider, name=f"{provider} main", currency="SEK", **fields
    )
    credentials = {
        "46elks": {"username": "u-main", "password": "p-main"},
        "callr": {"api_key": "callr-key"},
        "jambonz": {"api_key": "jz-token", "account_sid": "sid-root"},
        "sipcentric": {"username": "sc-user", "password": "sc-pw"},
    }[provider]
    account.set_credentials(credentials)
    account.save()
    return account


@pytest.fixture
def account_a(tenant_a) -> ProviderAccount:
    return make_account(tenant_a)


@pytest.fixture
def account_b(tenant_b) -> ProviderAccount:
    return make_account(tenant_b)
