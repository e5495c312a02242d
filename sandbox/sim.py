"""What every provider simulator is made of: requests and responses, the simulated account,
and `ProviderSim`, the base class of the simulator modules (`elks46.py`, `sipcentric.py`,
`callr.py`, `jambonz.py`). Nothing here imports Django or the product."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import phonenumbers

if TYPE_CHECKING:
    from .core import Sandbox


# -- phone numbers -----------------------------------------------------------------------
def valid_e164(number: str) -> str:
    """`number` when libphonenumber (what the product validates with) accepts it; else a
    valid number of the same country that keeps as many of its last digits as it can.

    Seeded histories use random digits after a country prefix; without this some of them
    would be numbers the product refuses to answer (issue #12: replies to a sandbox
    conversation failed with "not a valid phone number")."""
    if _line_shaped(number):
        return number
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    if phonenumbers.is_valid_number(parsed):
        return number
    region = phonenumbers.region_code_for_country_code(parsed.country_code)
    digits = phonenumbers.national_significant_number(parsed)
    for pattern in _example_numbers(region):
        for keep in range(min(4, len(pattern)), len(pattern) + 1):
            tail = digits[-(len(pattern) - keep) :] if keep < len(pattern) else ""
            candidate = pattern[:keep] + tail.rjust(len(pattern) - keep, "0")
            fixed = f"+{parsed.country_code}{candidate}"
            if _line_shaped(fixed) or phonenumbers.is_valid_number(phonenumbers.parse(fixed)):
                return fixed
    return number


@functools.cache
def _example_numbers(region: str) -> tuple[str, ...]:
    """The national numbers of the region's example mobile and fixed-line numbers."""
    examples = (
        phonenumbers.example_number_for_type(region, kind)
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    )
    return tuple(phonenumbers.national_significant_number(e) for e in examples if e is not None)


def _line_shaped(number: str) -> bool:
    """True when `number` is +<country code><national number> and the national number is
    one of the country's numbers by libphonenumber's own patterns (its general pattern and
    its mobile or fixed-line one): valid for it. Regexes instead of a full parse and
    validation (a fifth of a history page's CPU)."""
    for length in (1, 2, 3):
        code = number[1 : 1 + length]
        patterns = _line_patterns(int(code)) if code.isdigit() else None
        if patterns is not None:
            national = number[1 + length :]
            general, lines = patterns
            return (
                national[:1] not in ("", "0")
                and general.fullmatch(national) is not None
                and lines.fullmatch(national) is not None
            )
    return False


@functools.cache
def _line_patterns(country_code: int) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.general_desc is None or not metadata.general_desc.national_number_pattern:
        return None
    lines = [
        desc.national_number_pattern
        for desc in (metadata.mobile, metadata.fixed_line)
        if desc is not None and desc.national_number_pattern
    ]
    if not lines:
        return None
    general = re.compile(metadata.general_desc.national_number_pattern)
    return general, re.compile("|".join(f"(?:{line})" for line in lines))


# -- requests and responses --------------------------------------------------------------
@dataclass
class SimRequest:
    method: str
    path: str  # below the provider prefix, e.g. "/a1/sms"
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    remote_addr: str = "127.0.0.1"

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Set by faults: "timeout" or "drop" means the effect happened but no answer arrives;
    # "timeout_before" means no effect and no answer.
    after: str | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> SimResponse:
        return cls(status, json.dumps(data).encode(), {"content-type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int, headers: dict[str, str] | None = None) -> SimResponse:
        return cls(status, text.encode(), {"content-type": "text/plain; charset=utf-8", **(headers or {})})


# -- accounts -----------------------------------------------------------------------------
@dataclass
class SimAccount:
    provider: str
    remote_id: str
    credentials: dict[str, str]
    seed: int = 0
    size: int = 100  # messages in the seeded history (calls, numbers … scale from it)
    anchor: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    webhook_base: str = ""  # our /hooks/<provider>/<token>/ for this account
    webhook_secret: str = ""
    parent: SimAccount | None = None
    # Provider-specific live state (sent messages, numbers, subaccounts, balance …).
    state: dict[str, Any] = field(default_factory=dict)

    def rng(self, *salt: Any) -> random.Random:
        """A deterministic random source for one seeded item."""
        digest = hashlib.sha256(repr((self.seed, self.provider, *salt)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def hook(self, kind: str) -> str:
        return f"{self.webhook_base.rstrip('/')}/{kind}/" if self.webhook_base else ""


class ProviderSim:
    """One provider's API. Subclasses set `code` (the provider code) and `root` (the real
    API's base path below the sandbox's `/<code>` prefix) and implement `handle` and
    `endpoint`; `Sandbox` finds every subclass defined in a module of this package."""

    code: str = ""
    root: str = ""

    @classmethod
    def account_credentials(cls, label: str) -> tuple[dict[str, str], str, str]:
        """(credentials, remote account id, webhook secret) of a sandbox account called
        `label`: unique to it, so each product account is its own sandbox account."""
        return {"username": f"sbx-{label}", "password": f"pw-{label}"}, "", ""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def endpoint(self, request: SimRequest) -> str:
        """A stable name for fault matching and the ledger: 'POST /sms' or 'sms.send'."""
        return f"{request.method} {request.path}"

    def handle(self, request: SimRequest) -> SimResponse:
        raise NotImplementedError

    def error_response(self, status: int, message: str) -> SimResponse:
        """The provider's own error format for an injected 5xx/429."""
        return SimResponse.json({"error": message}, status)

    def malformed_response(self) -> SimResponse:
        return SimResponse(200, b'{"data": [{"id": ', {"content-type": "application/json"})

    def setup_account(self, account: SimAccount) -> None:
        """Seed provider-specific state for a new account."""

    def emit(self, account: SimAccount, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Create an inbound event (sms, mms, call) and schedule its webhook."""
        raise NotImplementedError(f"{self.code} cannot emit {kind}")

    def authenticate(self, request: SimRequest) -> SimAccount | None:
        return None


def history_time(account: SimAccount, index: int, span: timedelta, size: int) -> datetime:
    """Seeded item `index` (0 = newest) spread evenly over `span` before the anchor."""
    step = span / max(size, 1)
    return account.anchor - step * (index + 1)
