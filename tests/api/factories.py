"""One factory per model an API resource serves: `make(Model, tenant)` returns a saved row
of that tenant. A new resource whose model has no factory fails the isolation matrix with
"no factory for <model>" until one is added here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from django.core.files.base import ContentFile
from django.db.models import Model
from django.utils import timezone

from accounts import audit
from accounts.models import ApiKey, AuditLog, Tenant
from billing.models import BalanceSnapshot, Notification
from calls.models import Call, CallLeg, Recording
from messaging.models import BulkSend, Message, MessageMedia
from numbers.models import PhoneNumber
from providers.models import ProviderAccount, ProviderLog, SyncRun, WebhookEvent

_seq = count(1)


def provider_account(tenant: Tenant, provider: str = "46elks", **fields) -> ProviderAccount:
    account = ProviderAccount(tenant=tenant, provider=provider, name=fields.pop("name", f"{provider} main"))
    account.set_credentials({"username": "u", "password": "p", "api_key": "k", "account_sid": "sid"})
    for key, value in fields.items():
        setattr(account, key, value)
    account.save()
    return account


def root_account(tenant: Tenant) -> ProviderAccount:
    existing = ProviderAccount.objects.for_tenant(tenant).filter(parent__isnull=True).first()
    return existing or provider_account(tenant)


def subaccount(tenant: Tenant) -> ProviderAccount:
    # A subaccount is listed by both provider-accounts and subaccounts.
    parent = root_account(tenant)
    return provider_account(
        tenant, parent=parent, name=f"sub {next(_seq)}", remote_account_id=f"s{next(_seq)}"
    )


def phone_number(tenant: Tenant, number: str = "") -> PhoneNumber:
    n = next(_seq)
    return PhoneNumber.objects.create(
        tenant=tenant,
        provider_account=root_account(tenant),
        remote_id=f"n{n}",
        number=number or f"+4670000{n:04d}",
        capabilities=["sms", "voice"],
        country="SE",
    )


def message(tenant: Tenant, *, created_at: datetime | None = None, **fields) -> Message:
    n = next(_seq)
    values = {
        "direction": "outbound",
        "from_number": "+46700000001",
        "to_number": f"+4673{n:07d}",
        "body": f"hello {n}",
        "status": "delivered",
        "remote_id": f"m{n}",
        "cost": Decimal("0.3500"),
        "currency": "SEK",
        "parts": 1,
        "created_at": created_at or timezone.now(),
        **fields,
    }
    return Message.objects.create(tenant=tenant, provider_account=root_account(tenant), **values)


def media(tenant: Tenant, *, content: bytes | None = None) -> MessageMedia:
    item = MessageMedia(tenant=tenant, message=message(tenant, kind="mms"), remote_id=f"img{next(_seq)}")
    if content is not None:
        item.content_type = "image/png"
        item.file.save(f"{item.remote_id}.png", ContentFile(content), save=False)
        item.fetch_status = MessageMedia.FetchStatus.FETCHED
    item.save()
    return item


def call(tenant: Tenant, **fields) -> Call:
    n = next(_seq)
    values = {
        "direction": "outbound",
        "from_number": "+46700000001",
        "to_number": f"+4673{n:07d}",
        "state": "completed",
        "remote_id": f"c{n}",
        "duration": 42,
        "cost": Decimal("1.2000"),
        "currency": "SEK",
        "created_at": timezone.now(),
        "idempotency_key": f"call-{n}",
        **fields,
    }
    created = Call.objects.create(tenant=tenant, provider_account=root_account(tenant), **values)
    CallLeg.objects.create(
        tenant=tenant,
        call=created,
        position=0,
        from_number=values["from_number"],
        to_number=values["to_number"],
    )
    return created


def recording(tenant: Tenant, *, content: bytes | None = None) -> Recording:
    parent = call(tenant)
    item = Recording(
        tenant=tenant,
        provider_account=parent.provider_account,
        call=parent,
        remote_id=f"r{next(_seq)}",
        call_remote_id=parent.remote_id,
        created_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    if content is not None:
        item.content_type = "audio/mpeg"
        item.file.save(f"{item.remote_id}.mp3", ContentFile(content), save=False)
        item.fetch_status = Recording.FetchStatus.FETCHED
    item.save()
    return item


FACTORIES: dict[type[Model], Callable[[Tenant], Model]] = {
    ApiKey: lambda tenant: ApiKey.issue(tenant, f"key {next(_seq)}")[0],
    BalanceSnapshot: lambda tenant: BalanceSnapshot.objects.create(
        tenant=tenant,
        provider_account=root_account(tenant),
        amount=Decimal("12.5"),
        currency="SEK",
        taken_at=timezone.now(),
    ),
    Notification: lambda tenant: Notification.objects.create(
        tenant=tenant, kind="spend_cap", key=str(next(_seq)), period="2026-11", title="80% used"
    ),
    AuditLog: lambda tenant: audit.record(tenant, None, "test.made"),
    ProviderAccount: subaccount,
    SyncRun: lambda tenant: SyncRun.objects.create(tenant=tenant, account=root_account(tenant)),
    WebhookEvent: lambda tenant: WebhookEvent.objects.create(
        tenant=tenant, account=root_account(tenant), provider="46elks", kind="sms", event_key=f"e{next(_seq)}"
    ),
    ProviderLog: lambda tenant: ProviderLog.objects.create(
        tenant=tenant, account=root_account(tenant), method="GET", url="http://sandbox/a1/me", status=200
    ),
    PhoneNumber: phone_number,
    Message: message,
    # With stored bytes, so their owner gets 200 from content/ and audio/.
    MessageMedia: lambda tenant: media(tenant, content=b"\x89PNG fake"),
    Call: call,
    Recording: lambda tenant: recording(tenant, content=b"ID3 fake"),
    BulkSend: lambda tenant: BulkSend.objects.create(
        tenant=tenant,
        account=root_account(tenant),
        from_number="Switchbrd",
        body="Hi",
        idempotency_key=f"b{next(_seq)}",
    ),
}


def make(model: type[Model], tenant: Tenant) -> Model:
    try:
        factory = FACTORIES[model]
    except KeyError:
        raise AssertionError(f"no factory for {model._meta.label} in tests/api/factories.py") from None
    return factory(tenant)
