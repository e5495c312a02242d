"""A subaccount the user disabled stays disabled through the next sync of its parent's
subaccounts (the provider still calls it active); enabling it is kept the same way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers import services
from providers.models import ProviderAccount, SyncRun
from providers.sync import run_sync

pytestmark = pytest.mark.django_db

Status = ProviderAccount.Status


def sync_subaccounts(parent: ProviderAccount) -> None:
    run = SyncRun.objects.create(tenant_id=parent.tenant_id, account=parent)
    run = run_sync(run, resources=["subaccounts"], enqueue_subaccounts=False)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error


@pytest.fixture
def parent(tenant_a, sandbox_account):
    return sandbox_account(tenant_a, "46elks", size=5)


@pytest.fixture
def child(parent):
    child = services.create_subaccount(parent, "Shop", Decimal("100"))
    sync_subaccounts(parent)
    return ProviderAccount.objects.get(pk=child.pk)


def test_a_subaccount_disabled_by_the_user_stays_disabled_after_a_sync(parent, child, owner_a):
    services.set_account_enabled(child, False, actor=owner_a)

    sync_subaccounts(parent)

    assert ProviderAccount.objects.get(pk=child.pk).status == Status.DISABLED


def test_a_sync_still_updates_a_disabled_subaccounts_name_and_limit(parent, child):
    services.set_account_enabled(child, False)
    ProviderAccount.objects.filter(pk=child.pk).update(name="stale", usage_limit=Decimal("1"))

    sync_subaccounts(parent)

    child.refresh_from_db()
    assert (child.name, child.usage_limit, child.status) == ("Shop", Decimal("100"), Status.DISABLED)


def test_a_subaccount_enabled_again_stays_enabled_after_a_sync(parent, child):
    services.set_account_enabled(child, False)
    services.set_account_enabled(child, True)

    sync_subaccounts(parent)

    child.refresh_from_db()
    assert child.status == Status.ACTIVE
    assert "disabled_by_user" not in child.options


def test_subaccounts_disabled_with_their_root_stay_disabled_after_a_sync(parent, child):
    services.set_account_enabled(parent, False)
    ProviderAccount.objects.filter(pk=parent.pk).update(status=Status.ACTIVE)  # as if a sync ran anyway

    sync_subaccounts(parent)

    assert ProviderAccount.objects.get(pk=child.pk).status == Status.DISABLED


def test_a_subaccount_the_provider_reactivates_comes_back_when_the_user_did_not_disable_it(parent, child):
    ProviderAccount.objects.filter(pk=child.pk).update(status=Status.DISABLED)  # the provider's last word

    sync_subaccounts(parent)

    assert ProviderAccount.objects.get(pk=child.pk).status == Status.ACTIVE
