"""The sandbox never invents a number the product would refuse: every number a synced
sandbox history holds (ours, counterparts, numbers rented) is a valid phone number, so a
reply to any conversation can be sent."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from calls.models import Call
from messaging.models import Message
from numbers.models import PhoneNumber
from providers.models import SyncRun
from providers.sync import run_sync
from sandbox.core import valid_e164
from sandbox.sim import _line_shaped


def is_valid(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def numbers_in_history(account) -> set[str]:
    found = set(PhoneNumber.objects.filter(provider_account=account).values_list("number", flat=True))
    for model in (Message, Call):
        for a, b in model.objects.filter(provider_account=account).values_list("from_number", "to_number"):
            found.update({a, b})
    # Alphanumeric sender ids and internal extensions are not phone numbers.
    return {n for n in found if n.startswith("+")}


@pytest.mark.parametrize("provider", ["46elks", "sipcentric", "callr", "jambonz"])
def test_every_number_in_a_synced_sandbox_history_is_valid(tenant_a, sandbox_account, provider):
    account = sandbox_account(tenant_a, provider, seed=11, size=120)
    run = run_sync(SyncRun.objects.create(tenant=tenant_a, account=account, trigger=SyncRun.Trigger.COMMAND))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error

    numbers = numbers_in_history(account)

    assert len(numbers) > 5
    assert sorted(n for n in numbers if not is_valid(n)) == []


def test_an_invalid_number_is_replaced_by_a_valid_one_of_the_same_country():
    fixed = valid_e164("+447700900039")  # Ofcom's drama range: not a valid number

    assert is_valid(fixed) and fixed.startswith("+44") and fixed.endswith("900039")


def test_a_valid_number_is_kept_as_it_is():
    assert valid_e164("+46701234567") == "+46701234567"


@pytest.mark.parametrize("prefix", ["+4670", "+4673", "+4634", "+46", "+44", "+1", "+49", "+33"])
def test_a_number_kept_without_a_full_validation_is_valid(prefix):
    rng = random.Random(prefix)
    numbers = [
        prefix + "".join(rng.choices("0123456789", k=rng.randint(9, 13) - len(prefix))) for _ in range(2000)
    ]

    kept = [n for n in numbers if _line_shaped(n)]

    assert sorted(n for n in kept if not is_valid(n)) == []


def test_the_seeded_swedish_numbers_skip_the_full_validation():
    assert _line_shaped("+46701234567") and _line_shaped("+4634596853")


def test_a_number_no_pattern_accepts_takes_the_full_validation():
    assert not _line_shaped("+4634140891")
