import pytest

from billing.models import BalanceSnapshot
from providers.models import SyncRun
from providers.sync import run_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def sync(account):
    run = SyncRun.objects.create(tenant=account.tenant, account=account)
    run_sync(run, resources=["numbers"], enqueue_subaccounts=False)


def test_a_sync_takes_a_balance_snapshot_when_none_is_recent(
    tenant_a, sandbox_account, eager, django_capture_on_commit_callbacks
):
    account = sandbox_account(tenant_a, "46elks")
    with django_capture_on_commit_callbacks(execute=True):
        sync(account)
    assert BalanceSnapshot.objects.for_tenant(tenant_a).filter(provider_account=account).count() == 1


def test_a_recent_snapshot_is_not_taken_again(
    tenant_a, sandbox_account, eager, django_capture_on_commit_callbacks
):
    account = sandbox_account(tenant_a, "46elks")
    with django_capture_on_commit_callbacks(execute=True):
        sync(account)
    with django_capture_on_commit_callbacks(execute=True):
        sync(account)
    assert BalanceSnapshot.objects.for_tenant(tenant_a).filter(provider_account=account).count() == 1


def test_providers_without_a_balance_are_left_alone(
    tenant_a, sandbox_account, eager, django_capture_on_commit_callbacks
):
    account = sandbox_account(tenant_a, "jambonz")
    with django_capture_on_commit_callbacks(execute=True):
        sync(account)
    assert not BalanceSnapshot.objects.exists()
