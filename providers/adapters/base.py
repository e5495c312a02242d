"""The adapter contract. One subclass per provider, mostly data (code, name, base URL,
capabilities, credential shapes) plus the operations the provider supports.

An adapter takes a `Connection` (credentials and ids, already decrypted) and a
`ProviderHttp`, speaks one provider's API, and returns dataclasses from `records`.
Anything the provider cannot do raises `NotSupported`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import inbound
from .errors import Malformed, NotSupported, Unavailable, WebhookRejected
from .http import ProviderHttp
from .records import (
    AccountBalance,
    AccountInfo,
    CallRequest,
    Capability,
    InboundEvent,
    NumberConfig,
    Page,
    PriceEstimate,
    RawPage,
    RemoteCall,
    RemoteMessage,
    RemoteNumber,
    RemoteRecording,
    RemoteSubaccount,
    SendResult,
    SmsRequest,
    WebhookRequest,
)

# The operations that read a provider's answer; a Malformed escaping one becomes Unavailable.
ANSWER_OPERATIONS = (
    "check_credentials",
    "get_balance",
    "list_messages",
    "list_calls",
    "list_recordings",
    "list_numbers",
    "list_subaccounts",
    "fetch_messages",
    "fetch_calls",
    "fetch_recordings",
    "get_message",
    "get_call",
    "send_sms",
    "estimate_sms",
    "send_mms",
    "place_call",
    "allocate_number",
    "configure_number",
    "release_number",
    "create_subaccount",
    "update_subaccount",
)


def _malformed_as_unavailable(operation: Callable[..., Any], provider: str) -> Callable[..., Any]:
    @functools.wraps(operation)
    def read(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except Malformed as exc:
            # The request may have taken effect (a send): its outcome is unknown, never retried blindly.
            raise Unavailable(f"Malformed response from {provider}: {exc}", request_sent=True) from None

    return read


def _answers_malformed_as_unavailable(operation: Callable[..., Any], provider: str) -> Callable[..., Any]:
    read = _malformed_as_unavailable(operation, provider)
    read.checked = True  # type: ignore[attr-defined]
    return read


# History resources a sync walks, in order.
RESOURCES = ("numbers", "subaccounts", "messages", "calls", "recordings")
# What the connect form calls a credential key when the provider gives it no name of its own.
CREDENTIAL_LABELS: Mapping[str, str] = {
    "username": "Username / API user",
    "password": "Password / API password",
    "api_key": "API key",
    "login": "Login",
    "account_sid": "Account SID",
}


@dataclass(frozen=True)
class SubaccountIdentity:
    """How a subaccount the provider listed without credentials of its own acts through its
    parent (`Adapter.subaccount_identity`)."""

    # Credentials the child uses; None: the parent's, as they are.
    credentials: Mapping[str, str] | None = None
    # Options the child gets on top of its own (e.g. whom to act as).
    options: Mapping[str, str] = field(default_factory=dict)
    # Non-empty when the parent's credentials cannot act as the child at all: the child is
    # then created with sync off and this as its error.
    unusable: str = ""


@dataclass
class Connection:
    """What an adapter needs to talk to one account."""

    base_url: str
    credentials: Mapping[str, str]
    remote_account_id: str = ""  # Sipcentric customer id, jambonz account_sid, …
    webhook_secret: str = ""  # Callr hmac_secret, jambonz webhook secret
    # Provider-specific settings, e.g. {"allowed_ips": ["176.10.154.199"]}.
    options: Mapping[str, Any] = field(default_factory=dict)


class Adapter:
    code: ClassVar[str]
    name: ClassVar[str]
    default_base_url: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Accepted credential shapes: each a tuple of required keys.
    credential_shapes: ClassVar[tuple[tuple[str, ...], ...]] = ()
    # What the provider's own console calls each credential key (for the connect form).
    credential_labels: ClassVar[dict[str, str]] = {}
    # Self-hosted providers have no public API: every account must give its base URL.
    base_url_required: ClassVar[bool] = False
    # Webhook kinds this provider posts to `/hooks/<code>/<token>/<kind>/`.
    webhook_kinds: ClassVar[tuple[str, ...]] = ()
    # True when the provider signs its webhooks with a secret the account holder sets
    # (Connection.webhook_secret); an account of such a provider without one is flagged.
    signs_webhooks: ClassVar[bool] = False
    # A webhook body larger than this is Rejected before it is parsed.
    max_webhook_body: ClassVar[int] = inbound.MAX_WEBHOOK_BODY

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """The one parse-failure policy (errors.Malformed), applied to every provider: an
        operation whose answer cannot be read raises Unavailable (request_sent: a send's
        outcome is unknown), and `parse_webhook` runs under `inbound.checked_parse`: size
        and depth limits, clean text, valid numbers, and `Rejected` (never a crash) on
        malformed input, for the webhook view and the worker alike."""
        super().__init_subclass__(**kwargs)
        for name in ANSWER_OPERATIONS:
            operation = cls.__dict__.get(name)
            if operation is not None and not getattr(operation, "checked", False):
                provider = getattr(cls, "name", cls.__name__)
                setattr(cls, name, _answers_malformed_as_unavailable(operation, provider))
        parse = cls.__dict__.get("parse_webhook")
        if parse is None or getattr(parse, "checked", False):
            return

        @functools.wraps(parse)
        def parse_webhook(self: Adapter, kind: str, request: WebhookRequest) -> list[InboundEvent]:
            return inbound.checked_parse(
                lambda: parse(self, kind, request), request.body, self.max_webhook_body, self.name
            )

        parse_webhook.checked = True  # type: ignore[attr-defined]
        cls.parse_webhook = parse_webhook  # type: ignore[method-assign]

    # -- provider facts the outbound layer asks (no code outside the adapters names a provider) --
    # Message kinds ("sms", "mms") this provider sends from an alphanumeric sender id.
    alphanumeric_sender_kinds: ClassVar[frozenset[str]] = frozenset()
    # Sender names the provider itself offers, per message kind (not a number, not a sender id).
    named_senders: ClassVar[Mapping[str, frozenset[str]]] = {}
    # The webhook kind that carries delivery reports for our messages ("" when none).
    delivery_report_kind: ClassVar[str] = ""
    # The webhook kind that carries status reports for our calls ("" when none).
    call_status_kind: ClassVar[str] = ""
    # A call may start from something that is not a phone number (a full-match regex, "" = no).
    caller_pattern: ClassVar[str] = ""
    # The webhook kind that answers a placed call with our action's verbs.
    answer_webhook_kind: ClassVar[str] = ""
    # The account's currency once the adapter learned it from the provider (None: not known,
    # or the provider prices in a fixed one); the caller may store it to save the lookup.
    learned_currency: str | None = None

    def __init__(self, connection: Connection, http: ProviderHttp):
        self.connection = connection
        self.http = http

    # -- helpers ----------------------------------------------------------------
    @classmethod
    def http_auth(cls, connection: Connection) -> Any:
        """Auth for ProviderHttp: a (user, password) tuple, an httpx.Auth, or None."""
        return None

    @classmethod
    def http_headers(cls, connection: Connection) -> dict[str, str]:
        return {}

    @classmethod
    def validate_credentials(cls, credentials: Mapping[str, Any]) -> dict[str, str]:
        """Return the credentials reduced to one accepted shape, or raise ValueError."""
        for shape in cls.credential_shapes:
            if all(str(credentials.get(k) or "").strip() for k in shape):
                return {k: str(credentials[k]).strip() for k in shape}
        wanted = " or ".join("{" + ", ".join(shape) + "}" for shape in cls.credential_shapes)
        raise ValueError(f"{cls.name} credentials need {wanted}.")

    @classmethod
    def credential_keys(cls) -> list[str]:
        """Every key of every accepted shape, in order (the connect form's fields)."""
        keys: list[str] = []
        for shape in cls.credential_shapes:
            keys += [key for key in shape if key not in keys]
        return keys

    @classmethod
    def credential_label(cls, key: str) -> str:
        return (
            cls.credential_labels.get(key) or CREDENTIAL_LABELS.get(key) or key.replace("_", " ").capitalize()
        )

    @classmethod
    def missing_base_url(cls, base_url: str) -> str:
        """Why an account of this provider needs a base URL it was not given ("" = it does not)."""
        if cls.base_url_required and not base_url:
            return f"{cls.name} is self-hosted: enter your server's API URL."
        return ""

    @classmethod
    def subaccount_identity(
        cls, parent_credentials: Callable[[], Mapping[str, str]], remote_id: str
    ) -> SubaccountIdentity:
        """How a subaccount listed without credentials of its own (`remote_id`) acts through
        its parent. By default it cannot: the parent's credentials would reach the parent's
        own history, so the child is not synced. `parent_credentials` decrypts on call."""
        return SubaccountIdentity(unusable="The provider listed no credentials for this subaccount.")

    @classmethod
    def needs_answer_url(cls, options: Mapping[str, Any]) -> bool:
        """Whether a call placed with these account options needs our answer URL (the
        provider asks it what to do once the callee answers)."""
        return False

    @classmethod
    def supports(cls, capability: Capability) -> bool:
        return capability in cls.capabilities

    def _unsupported(self, what: str) -> NotSupported:
        return NotSupported(f"{self.name} does not support {what}.")

    # -- account ------------------------------------------------------------------
    def check_credentials(self) -> AccountInfo:
        raise self._unsupported("checking credentials")

    def get_balance(self) -> AccountBalance:
        raise self._unsupported("balances")

    # -- history (each returns one page; pass the previous page's cursor) ------------
    def list_messages(self, cursor: str | None) -> Page[RemoteMessage]:
        raise self._unsupported("message history")

    def list_calls(self, cursor: str | None) -> Page[RemoteCall]:
        raise self._unsupported("call history")

    def list_recordings(self, cursor: str | None) -> Page[RemoteRecording]:
        raise self._unsupported("recordings")

    def list_numbers(self, cursor: str | None) -> Page[RemoteNumber]:
        raise self._unsupported("numbers")

    def list_subaccounts(self, cursor: str | None) -> Page[RemoteSubaccount]:
        raise self._unsupported("subaccounts")

    def list_page(self, resource: str, cursor: str | None) -> Page[Any]:
        page: Page[Any] = getattr(self, f"list_{resource}")(cursor)
        return page

    def fetch_page(self, resource: str, cursor: str | None) -> RawPage[Any]:
        """One page of `resource` whose records `.parse()` reads later, on another thread
        (a sync requests the next page meanwhile). An adapter that can tell the next cursor
        from the raw answer defines `fetch_<resource>` (returning a RawPage; its
        `list_<resource>` is `fetch_<resource>(cursor).parse()`); any other resource is
        parsed here, as `list_page` does."""
        fetch = getattr(self, f"fetch_{resource}", None)
        if fetch is None:
            return RawPage.parsed(self.list_page(resource, cursor))
        raw: RawPage[Any] = fetch(cursor)
        # The same parse-failure policy for records parsed after their fetch returned.
        raw.parse_rows = _malformed_as_unavailable(raw.parse_rows, getattr(self, "name", type(self).__name__))
        return raw

    def get_message(self, remote_id: str) -> RemoteMessage:
        raise self._unsupported("fetching one message")

    def get_call(self, remote_id: str) -> RemoteCall:
        raise self._unsupported("fetching one call")

    def download_recording(self, recording: RemoteRecording) -> Iterator[bytes]:
        raise self._unsupported("recording downloads")

    def download_media(self, remote_id: str) -> Iterator[bytes]:
        raise self._unsupported("media downloads")

    # -- sending ---------------------------------------------------------------------
    def send_sms(self, request: SmsRequest) -> SendResult:
        raise self._unsupported("sending SMS")

    def estimate_sms(self, request: SmsRequest) -> PriceEstimate:
        raise self._unsupported("price estimates (dry run)")

    def send_mms(self, request: SmsRequest) -> SendResult:
        raise self._unsupported("sending MMS")

    def place_call(self, request: CallRequest) -> SendResult:
        raise self._unsupported("placing calls")

    # -- numbers and subaccounts ------------------------------------------------------
    def allocate_number(self, country: str, capabilities: list[str]) -> RemoteNumber:
        raise self._unsupported("allocating numbers")

    def configure_number(self, remote_id: str, config: NumberConfig) -> RemoteNumber:
        raise self._unsupported("configuring numbers")

    def release_number(self, remote_id: str) -> RemoteNumber:
        raise self._unsupported("releasing numbers")

    def create_subaccount(self, name: str, usage_limit: Any = None) -> RemoteSubaccount:
        raise self._unsupported("creating subaccounts")

    def update_subaccount(
        self, remote_id: str, *, name: str | None = None, usage_limit: Any = None
    ) -> RemoteSubaccount:
        raise self._unsupported("updating subaccounts")

    # -- webhooks ------------------------------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> None:
        """Raise WebhookRejected unless the request is authentic. The per-account URL
        token has already been checked by the caller."""
        allowed = self.connection.options.get("allowed_ips") or []
        if allowed and request.remote_addr not in allowed:
            raise WebhookRejected("Webhook source address is not allowed.")

    def parse_webhook(self, kind: str, request: WebhookRequest) -> list[InboundEvent]:
        raise self._unsupported("webhooks")
