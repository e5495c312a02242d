"""Placing a call through a fault on the provider's call endpoint: the same rules as a send.
(Sipcentric and Callr calls need a PBX endpoint / a realtime app option; not covered here.)"""

from __future__ import annotations

import pytest

from calls.models import Call
from calls.services import UNKNOWN_OUTCOME, place_call
from calls.tasks import place_call_task
from providers.adapters.retry import DEFAULT_POLICY

from .conftest import RECIPIENT, assert_no_secret_leaked, assert_rollups_match_a_recount

CALL_ENDPOINT = {"46elks": "POST /a1/calls", "jambonz": "POST /Accounts/{AccountSid}/Calls"}
CALLERS = tuple(CALL_ENDPOINT)
EFFECTIVE = ("", "latency", "timeout", "drop")


def _dial(tenant, account) -> Call:
    call = place_call(
        tenant,
        account=account,
        from_number=account.our_number,
        to=RECIPIENT,
        action={"connect": "+46701234568"},
    )
    place_call_task.apply(args=[call.pk])  # inline, retries included
    call.refresh_from_db()
    return call


def _attempts(sandbox, provider: str) -> list:
    return sandbox.ledger.entries(provider=provider, endpoint=CALL_ENDPOINT[provider])


def _effective(sandbox, provider: str) -> int:
    return sum(1 for entry in _attempts(sandbox, provider) if entry.fault in EFFECTIVE)


def _fault(sandbox, provider: str, kind: str, count: int = 1) -> None:
    sandbox.faults.add(
        kind, provider=provider, endpoint=CALL_ENDPOINT[provider], count=count, retry_after=0, latency=5.0
    )


@pytest.mark.parametrize("kind", ["error", "rate_limit", "timeout_before", "latency"])
@pytest.mark.parametrize("provider", CALLERS)
def test_a_call_the_provider_did_not_take_is_retried_and_placed_once(
    provider, kind, tenant_a, sandbox, sender, caplog
):
    account = sender(provider)
    _fault(sandbox, provider, kind)

    call = _dial(tenant_a, account)

    assert call.remote_id and call.state not in ("unknown", "failed"), call.raw  # jambonz starts queued
    assert _effective(sandbox, provider) == 1
    assert_rollups_match_a_recount(tenant_a)
    assert_no_secret_leaked(account, caplog.text)


@pytest.mark.parametrize("provider", CALLERS)
def test_a_call_failing_with_5xx_every_time_fails_with_the_reason(provider, tenant_a, sandbox, sender):
    account = sender(provider)
    _fault(sandbox, provider, "error", count=100)

    call = _dial(tenant_a, account)

    assert call.state == "failed"
    assert call.error.startswith(f"Gave up after {DEFAULT_POLICY.max_attempts} attempts: ")
    assert len(_attempts(sandbox, provider)) == DEFAULT_POLICY.max_attempts
    assert _effective(sandbox, provider) == 0
    assert_rollups_match_a_recount(tenant_a)


@pytest.mark.parametrize("kind", ["timeout", "drop", "malformed"])
@pytest.mark.parametrize("provider", CALLERS)
def test_a_call_whose_outcome_is_hidden_is_unknown_and_never_placed_twice(
    provider, kind, tenant_a, sandbox, sender
):
    account = sender(provider)
    _fault(sandbox, provider, kind)

    call = _dial(tenant_a, account)

    assert call.state == "unknown" and call.remote_id == ""
    assert call.error.startswith(UNKNOWN_OUTCOME)
    assert len(_attempts(sandbox, provider)) == 1
    assert_rollups_match_a_recount(tenant_a)
