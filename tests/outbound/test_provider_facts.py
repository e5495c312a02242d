"""What differs per provider on the send path is asked of the adapter class; the send path
itself names no provider."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from providers.adapters.registry import ADAPTERS as ADAPTER_PATHS
from providers.adapters.registry import adapter_class

ROOT = Path(__file__).resolve().parents[2]
SEND_PATH = [
    *sorted((ROOT / "outbound").glob("*.py")),
    ROOT / "messaging" / "services.py",
    ROOT / "messaging" / "outbox.py",
    ROOT / "calls" / "services.py",
    ROOT / "calls" / "outbox.py",
]


@pytest.mark.parametrize("path", SEND_PATH, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_send_path_names_no_provider(path):
    names = set(ADAPTER_PATHS) | {adapter_class(code).name for code in ADAPTER_PATHS}
    names |= {dotted.rsplit(".", 2)[-2] for dotted in ADAPTER_PATHS.values()}  # modules: elks46 …
    text = path.read_text().lower()

    assert [n for n in sorted(names) if re.search(rf"\b{re.escape(n.lower())}\b", text)] == []


@pytest.mark.parametrize("code", sorted(ADAPTER_PATHS))
def test_every_webhook_kind_an_adapter_names_is_one_it_posts(code):
    facts = adapter_class(code)
    named = [facts.delivery_report_kind, facts.call_status_kind, facts.answer_webhook_kind]

    assert {kind for kind in named if kind} <= set(facts.webhook_kinds)


@pytest.mark.parametrize("code", sorted(ADAPTER_PATHS))
def test_sender_ids_are_only_offered_for_message_kinds(code):
    facts = adapter_class(code)

    assert set(facts.alphanumeric_sender_kinds) | set(facts.named_senders) <= {"sms", "mms"}
