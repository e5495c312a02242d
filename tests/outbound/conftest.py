"""The outbound layer's specs run twice: for a message and for a call. `subject` hides the
difference (how to queue one, run one attempt, sync the provider's history, and what the
provider's ledger recorded); the tests only state the behaviour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from calls.models import Call
from calls.services import dial, place_call
from messaging.delivery import deliver_message
from messaging.models import Message
from messaging.services import queue_message
from numbers.models import PhoneNumber
from outbound import delivery
from outbound.delivery import Outbox, Outcome
from providers.models import ProviderAccount, SyncRun
from providers.sync import run_sync

OUR_NUMBER = "+46766861234"
RECIPIENT = "+46701234567"


@dataclass
class Subject:
    name: str
    tenant: Any
    account: ProviderAccount
    sandbox: Any
    model: type
    box: Outbox
    endpoint: str
    resource: str
    queue_fn: Callable[..., Any]
    attempt_fn: Callable[[int], Outcome]
    request: dict[str, Any]

    @property
    def sending(self) -> str:
        return self.box.sending

    def queue(self, **overrides: Any) -> Any:
        fields = {"account": self.account, "from_number": OUR_NUMBER, "to": RECIPIENT, **self.request}
        return self.queue_fn(self.tenant, **{**fields, **overrides})

    def attempt(self, row: Any) -> Outcome:
        return self.attempt_fn(row.pk)

    def status(self, row: Any) -> str:
        row.refresh_from_db()
        return self.box.status_of(row)

    def set_status(self, row: Any, status: str, **values: Any) -> None:
        self.model.objects.filter(pk=row.pk).update(**{self.box.status_field: status, **values})

    def posted(self) -> int:
        """Requests the provider received for this kind of send."""
        return len(self.sandbox.ledger.entries(provider="46elks", endpoint=self.endpoint))

    def fault(self, kind: str, **options: Any) -> None:
        self.sandbox.faults.add(kind, provider="46elks", endpoint=self.endpoint, count=1, **options)

    def rows_to(self, number: str = RECIPIENT) -> list[Any]:
        return list(self.model.objects.for_tenant(self.tenant).filter(to_number=number))

    def sync(self) -> SyncRun:
        run = SyncRun.objects.create(
            tenant_id=self.tenant.pk, account=self.account, trigger=SyncRun.Trigger.COMMAND
        )
        run = run_sync(run, resources=[self.resource], enqueue_subaccounts=False)
        assert run.status == "succeeded", run.error
        return run


@pytest.fixture(params=["message", "call"])
def subject(request, tenant_a, sandbox_account, sandbox, monkeypatch) -> Subject:
    monkeypatch.setattr(delivery, "OUTCOME_WRITE_PAUSE", 0.0)
    account = sandbox_account(tenant_a, "46elks", seed=3, size=5, send_rate=0)
    PhoneNumber.objects.create(
        tenant=tenant_a,
        number=OUR_NUMBER,
        provider_account=account,
        remote_id=f"held-{account.pk}",
        capabilities=["sms", "mms", "voice"],
    )
    sandbox.ledger.clear()
    if request.param == "message":
        from messaging.outbox import OUTBOX

        return Subject(
            "message", tenant_a, account, sandbox, Message, OUTBOX, "POST /a1/sms", "messages",
            queue_message, deliver_message, {"body": "Hello there"},
        )  # fmt: skip
    from calls.outbox import OUTBOX

    return Subject(
        "call", tenant_a, account, sandbox, Call, OUTBOX, "POST /a1/calls", "calls",
        place_call, dial, {"action": {"connect": "+46709876543"}},
    )  # fmt: skip
