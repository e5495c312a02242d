"""`manage.py sync_account`: an inline sync with progress, and its exit codes."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from providers.adapters.errors import Rejected
from providers.models import SyncRun
from tests.providers import test_sync_fakes as fakes
from tests.providers.test_sync_fakes import make_account

registry, world = fakes.registry, fakes.world


def test_a_successful_sync_exits_zero_and_reports_each_resource(tenant_a, world, capsys):
    account = make_account(tenant_a)

    call_command("sync_account", account.pk)

    out = capsys.readouterr().out
    assert "messages     succeeded pages=3 fetched=25" in out
    assert SyncRun.objects.get(account=account).trigger == SyncRun.Trigger.COMMAND


def test_a_failed_sync_exits_non_zero(tenant_a, world):
    world.fail("calls", Rejected("Invalid start date."))
    account = make_account(tenant_a)

    with pytest.raises(CommandError, match=r"calls: Invalid start date\.") as excinfo:
        call_command("sync_account", account.pk)

    assert excinfo.value.returncode == 1


def test_resource_limits_the_run(tenant_a, world):
    account = make_account(tenant_a)

    call_command("sync_account", account.pk, "--resource", "numbers")

    assert set(SyncRun.objects.get(account=account).resources) == {"numbers"}


def test_an_unknown_account_is_an_error(db):
    with pytest.raises(CommandError, match="No provider account 999999"):
        call_command("sync_account", 999_999)
