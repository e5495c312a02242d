import pytest
from django.core.exceptions import ImproperlyConfigured  # noqa: F401

from providers.models import ProviderAccount


@pytest.fixture
def account_a(tenant_a) -> ProviderAccount:
    """A plain 46elks-shaped account of tenant A (no network is used by billing tests)."""
    account = ProviderAccount(tenant=tenant_a, provider="sipcentric", name="A main", currency="SEK")
    account.credentials_encrypted = ""
    account.save()
    return account


@pytest.fixture
def account_b(tenant_b) -> ProviderAccount:
    account = ProviderAccount(tenant=tenant_b, provider="sipcentric", name="B main", currency="GBP")
    account.credentials_encrypted = ""
    account.save()
    return account
