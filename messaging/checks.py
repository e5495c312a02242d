"""What a message send checks before anything is stored (everything but the recipient):
kind, account, body, sender. The outbound layer's checks (numbers, sender rules, the
account) with the message's own (encoding and parts)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from accounts.models import Tenant
from numbers.models import PhoneNumber
from outbound.checks import check_account, check_sender, region_of, request_hash
from providers.adapters.records import Capability
from providers.importing import owners
from providers.models import ProviderAccount

from .encoding import check_body
from .models import Kind


@dataclass
class Checked:
    account: ProviderAccount
    root: ProviderAccount
    subaccount: ProviderAccount | None
    kind: str
    sender: str
    number: PhoneNumber | None
    body: str
    encoding: str
    parts: int
    media: list[str]
    region: str | None


def check_common(
    tenant: Tenant, account: ProviderAccount, from_number: str, body: str, kind: str, media: Iterable[str]
) -> tuple[Checked | None, dict[str, list[str]]]:
    """Everything but the recipient; (checked, errors)."""
    errors: dict[str, list[str]] = defaultdict(list)
    media = [str(m) for m in media or ()]
    if kind not in Kind.values:
        errors["kind"].append(f"Unknown kind {kind!r}: use sms or mms.")
        return None, errors
    if kind == Kind.SMS and media:
        errors["media"].append("Images need an MMS (kind=mms).")
    capability = Capability.SEND_MMS if kind == Kind.MMS else Capability.SEND_SMS
    account_problems = check_account(tenant, account, capability)
    errors["account"] += account_problems
    if account_problems and account is not None and account.tenant_id != tenant.pk:
        return None, errors  # nothing else about a foreign account is looked at
    encoding, parts, body_problems = check_body(body, kind, media)
    errors["body"] += body_problems
    if account is None:
        return None, errors
    sender, number, sender_problems = check_sender(tenant, account, from_number, kind)
    errors["from"] += sender_problems
    root, sub = owners(account)
    region = region_of(sender)
    checked = Checked(account, root, sub, kind, sender, number, body, encoding, parts, media, region)
    return checked, errors


def request_hash_of(checked: Checked, to: str) -> str:
    return request_hash(
        {
            "account": checked.account.pk,
            "kind": checked.kind,
            "from": checked.sender,
            "to": to,
            "body": checked.body,
            "media": checked.media,
        }
    )
