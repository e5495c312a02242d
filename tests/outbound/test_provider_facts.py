"""What differs per provider on the send path is asked of the adapter class (that no module
outside the adapters names a provider is tests/structure/test_provider_names.py)."""

from __future__ import annotations

import pytest

from providers.adapters.registry import ADAPTERS, adapter_class


@pytest.mark.parametrize("code", sorted(ADAPTERS))
def test_every_webhook_kind_an_adapter_names_is_one_it_posts(code):
    facts = adapter_class(code)
    named = [facts.delivery_report_kind, facts.call_status_kind, facts.answer_webhook_kind]

    assert {kind for kind in named if kind} <= set(facts.webhook_kinds)


@pytest.mark.parametrize("code", sorted(ADAPTERS))
def test_sender_ids_are_only_offered_for_message_kinds(code):
    facts = adapter_class(code)

    assert set(facts.alphanumeric_sender_kinds) | set(facts.named_senders) <= {"sms", "mms"}
