"""Sending an SMS through a fault on the provider's send endpoint, for every provider.

A fault the provider answered before acting (5xx, 429, a connect timeout) is retried and the
message is sent; one that may hide a send (timeout or dropped connection after the request
arrived, an unreadable answer) leaves the message `unknown`, never sent twice, and the next
history sync reconciles it where the provider has a message history. The ledger proves the
provider acted on at most one request per message.
"""

from __future__ import annotations

import pytest

from messaging.delivery import UNKNOWN_TIMEOUT
from messaging.models import Message
from messaging.services import queue_message
from messaging.tasks import send_message
from providers.adapters.retry import DEFAULT_POLICY
from providers.sync import run_sync

from .conftest import (
    PROVIDERS,
    RECIPIENT,
    SMS_ENDPOINT,
    assert_no_secret_leaked,
    assert_rollups_match_a_recount,
    new_run,
)

# Ledger faults under which the sandbox still carried the request out.
EFFECTIVE = ("", "latency", "timeout", "drop")
RETRIED_THEN_SENT = ("error", "rate_limit", "timeout_before", "latency")
OUTCOME_UNKNOWN = ("timeout", "drop", "malformed")
HAS_MESSAGE_HISTORY = [p for p in PROVIDERS if p != "jambonz"]


def _send(tenant, account, body: str) -> Message:
    message = queue_message(tenant, account=account, from_number=account.our_number, to=RECIPIENT, body=body)
    send_message.apply(args=[message.pk])  # inline, retries included
    message.refresh_from_db()
    return message


def _attempts(sandbox, provider: str) -> list:
    return sandbox.ledger.entries(provider=provider, endpoint=SMS_ENDPOINT[provider])


def _effective(sandbox, provider: str) -> int:
    return sum(1 for entry in _attempts(sandbox, provider) if entry.fault in EFFECTIVE)


def _fault(sandbox, provider: str, kind: str, count: int = 1):
    return sandbox.faults.add(
        kind, provider=provider, endpoint=SMS_ENDPOINT[provider], count=count, retry_after=0, latency=5.0
    )


@pytest.mark.parametrize("kind", RETRIED_THEN_SENT)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_send_the_provider_did_not_take_is_retried_and_sent_once(
    provider, kind, tenant_a, sandbox, sender, caplog
):
    account = sender(provider)
    _fault(sandbox, provider, kind)

    message = _send(tenant_a, account, f"retried through {kind}")

    assert message.status in ("sending", "sent"), message.error
    assert message.remote_id and message.error == ""
    assert message.send_attempts == (1 if kind == "latency" else 2)
    assert _effective(sandbox, provider) == 1
    assert_rollups_match_a_recount(tenant_a)
    assert_no_secret_leaked(account, caplog.text)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_send_failing_with_5xx_every_time_fails_with_the_reason_and_is_never_taken(
    provider, tenant_a, sandbox, sender, caplog
):
    account = sender(provider)
    _fault(sandbox, provider, "error", count=100)

    message = _send(tenant_a, account, "persistent 503")

    assert message.status == "failed"
    assert message.error.startswith(f"Gave up after {DEFAULT_POLICY.max_attempts} attempts: ")
    assert len(_attempts(sandbox, provider)) == DEFAULT_POLICY.max_attempts
    assert _effective(sandbox, provider) == 0
    assert message.billing_reservation is None  # released, not charged
    assert_rollups_match_a_recount(tenant_a)
    assert_no_secret_leaked(account, caplog.text)


@pytest.mark.parametrize("kind", OUTCOME_UNKNOWN)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_send_whose_outcome_is_hidden_is_unknown_and_never_sent_twice(
    provider, kind, tenant_a, sandbox, sender, caplog
):
    account = sender(provider)
    _fault(sandbox, provider, kind)

    message = _send(tenant_a, account, f"hidden by {kind}")

    assert message.status == "unknown"
    assert message.error.startswith(UNKNOWN_TIMEOUT) and message.remote_id == ""
    assert len(_attempts(sandbox, provider)) == 1
    assert _effective(sandbox, provider) == (0 if kind == "malformed" else 1)
    assert_no_secret_leaked(account, caplog.text)


@pytest.mark.parametrize("kind", ["timeout", "drop"])
@pytest.mark.parametrize("provider", HAS_MESSAGE_HISTORY)
def test_the_next_history_sync_reconciles_an_unknown_send_without_a_duplicate(
    provider, kind, tenant_a, sandbox, sender
):
    account = sender(provider)
    _fault(sandbox, provider, kind)
    message = _send(tenant_a, account, f"reconciled after {kind}")

    run = run_sync(new_run(account), resources=["messages"], enqueue_subaccounts=False)

    assert run.resources["messages"]["status"] == "succeeded", run.error
    rows = Message.objects.filter(provider_account=account, body=message.body)
    assert [row.pk for row in rows] == [message.pk]
    message.refresh_from_db()
    assert message.remote_id and message.status not in ("unknown", "queued")
    assert _effective(sandbox, provider) == 1
    assert_rollups_match_a_recount(tenant_a)


def test_an_unknown_jambonz_send_stays_unknown_with_a_clear_error_as_there_is_no_history_to_ask(
    tenant_a, sandbox, sender
):
    account = sender("jambonz")
    _fault(sandbox, "jambonz", "timeout")
    message = _send(tenant_a, account, "jambonz cannot tell")

    run = run_sync(new_run(account), enqueue_subaccounts=False)

    assert run.resources["messages"]["status"] == "skipped"
    message.refresh_from_db()
    assert message.status == "unknown"
    assert message.error.startswith(UNKNOWN_TIMEOUT)
    assert _effective(sandbox, "jambonz") == 1
