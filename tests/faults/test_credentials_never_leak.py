"""An account with distinctive secrets goes through a failing check, sync and send at each
provider; no stored row, log line or API answer about it holds any of those secrets."""

from __future__ import annotations

import json

import pytest

from providers.models import ProviderAccount
from providers.sandbox_accounts import sandbox_registration
from providers.sync import run_sync

from .conftest import PROVIDERS, assert_no_secret_leaked, new_run, secrets_of
from .test_send_faults import _send


def _distinctive(provider: str) -> dict[str, str]:
    secret = f"Zq8-{provider}-S3CR3T-do-not-store"
    if provider in ("46elks", "sipcentric"):
        return {"username": f"user-{provider}-x", "password": secret}
    if provider == "jambonz":
        return {"api_key": secret, "account_sid": "0b4c6a4e-5f7e-4d1a-9d7e-2d3a1c9b8e01"}
    return {"api_key": secret}


@pytest.fixture
def secret_account(sender, sandbox):
    """secret_account(provider, known=...) -> a sending account with distinctive secrets; the
    sandbox knows them (`known`) and fails every request, or refuses them as wrong."""

    def make(provider: str, *, known: bool) -> ProviderAccount:
        account = sender(provider)
        credentials = _distinctive(provider)
        account.set_credentials(credentials)
        if provider == "jambonz":
            account.remote_account_id = credentials["account_sid"]
        account.set_webhook_secret(f"whsec-{provider}-Zq8-S3CR3T")
        account.save()
        if known:
            reg = sandbox_registration(account)
            sandbox.add_account(provider, reg["credentials"], remote_id=reg["remote_id"], seed=3, size=5)
            sandbox.faults.add("error", provider=provider, status=500)
        return account

    return make


@pytest.mark.parametrize("known", [True, False], ids=["provider-down", "credentials-refused"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_secret_reaches_a_row_a_log_or_the_api_after_a_failing_check_sync_and_send(
    provider, known, tenant_a, secret_account, api_a, caplog
):
    account = secret_account(provider, known=known)
    assert all(secret for secret in secrets_of(account))

    check = api_a.post(f"/api/v1/provider-accounts/{account.pk}/test/")
    run = run_sync(new_run(account), enqueue_subaccounts=False)
    message = _send(tenant_a, account, "secret keeper")

    assert check.status_code >= 400  # each really failed, at the provider
    assert run.error and message.status in ("failed", "unknown")
    answers = [
        check.content.decode(),
        api_a.get(f"/api/v1/provider-accounts/{account.pk}/").content.decode(),
        api_a.get("/api/v1/sync-runs/").content.decode(),
        api_a.get("/api/v1/provider-logs/").content.decode(),
        json.dumps([message.error]),
    ]
    assert account.logs.exists()  # the logs being scanned are there
    assert_no_secret_leaked(account, caplog.text, *answers)


def test_the_scan_finds_a_secret_planted_in_a_provider_log(secret_account):
    account = secret_account("46elks", known=False)
    account.logs.create(tenant=account.tenant, method="GET", url="/", response_body=secrets_of(account)[0])

    with pytest.raises(AssertionError, match="secret"):
        assert_no_secret_leaked(account)
