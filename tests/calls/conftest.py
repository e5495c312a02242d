from __future__ import annotations

import pytest

from providers.models import ProviderAccount
from tests.factories import make_provider_account as make_account


@pytest.fixture
def account_a(tenant_a) -> ProviderAccount:
    return make_account(tenant_a)


@pytest.fixture
def account_b(tenant_b) -> ProviderAccount:
    return make_account(tenant_b)
