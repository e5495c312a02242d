"""Usage limits enforced at send time without a read-modify-write race.

`reserve()` takes one message (and its estimated cost) from the tenant's monthly caps and
the subaccount's usage limit with conditional UPDATEs: Postgres locks the row and
re-checks the condition after a concurrent update commits, so two concurrent sends can
never both take the last unit.

The counter row is the one row every send of a tenant shares, so it is taken in a short
transaction of its own, *before* the message is stored and with no other lock held: the
row lock lasts one UPDATE, never a whole send. The caller gives the reservation back
(`release`) when storing the message fails; a crash between the two leaves the counter one
message high (a cap errs on the safe side, never over).

A month's counter starts from what the rollups already hold for that month, so a cap set
mid-month counts what was spent before it. `settle()` corrects the cost once the provider
prices it, `release()` gives it back when a send fails for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Tenant
from core.db import RowReader
from providers.models import ProviderAccount

from . import alerts
from .models import BillingSettings, DailyUsage, UsageCounter
from .periods import month_bounds, month_start


class LimitExceeded(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Reservation:
    period: date
    currency: str  # the counter's currency ("" when the cap is count-only or another currency)
    cost: Decimal
    messages: int
    subaccount_id: int | None

    def to_dict(self) -> dict:
        """JSON-safe, to keep on the message until the send settles or fails."""
        return {
            "period": self.period.isoformat(),
            "currency": self.currency,
            "cost": str(self.cost),
            "messages": self.messages,
            "subaccount_id": self.subaccount_id,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Reservation:
        return cls(
            date.fromisoformat(data["period"]),
            data["currency"],
            Decimal(data["cost"]),
            int(data["messages"]),
            data.get("subaccount_id"),
        )


def _counter_currency(billing: BillingSettings | None, currency: str) -> str:
    # Spend only counts toward a cap in the cap's currency; messages count whatever it is.
    if billing and billing.monthly_spend_cap is not None and currency == billing.spend_cap_currency:
        return currency
    return ""


# Read by every send: hand-written SQL, not an ORM query compiled anew each time.
_BILLING = RowReader(BillingSettings)


def reserve(
    tenant: Tenant,
    *,
    subaccount: ProviderAccount | None,
    cost: Decimal | None,
    currency: str,
    messages: int = 1,
) -> Reservation:
    """Take `messages` and `cost` from the caps; raises LimitExceeded (taking nothing).
    Call it outside any transaction (see the module docstring)."""
    cost = cost or Decimal(0)
    row = None
    billing = _BILLING.one("tenant_id = %s", [tenant.pk])
    period = month_start(tenant)
    counter_currency = _counter_currency(billing, currency)
    spend_cost = cost if counter_currency else Decimal(0)
    capped = billing is not None and (
        billing.monthly_message_cap is not None or billing.monthly_spend_cap is not None
    )
    if capped:
        _ensure_counter(tenant, period, counter_currency)
        row = _take_from_counter(tenant, billing, period, counter_currency, messages, spend_cost)
        if row is None:
            _record_block(tenant, billing, period)
            raise LimitExceeded(_cap_message(billing))
    reservation = Reservation(
        period, counter_currency, spend_cost, messages, subaccount.pk if subaccount is not None else None
    )
    if subaccount is not None and subaccount.usage_limit is not None:
        used = Coalesce(F("usage"), Value(Decimal(0))) + Value(cost)
        taken = ProviderAccount.objects.filter(pk=subaccount.pk, usage_limit__gte=used).update(usage=used)
        if not taken:
            if capped:  # give back what the tenant's counter took
                release(tenant, Reservation(period, counter_currency, spend_cost, messages, None))
            raise LimitExceeded(
                f"Subaccount {subaccount.name} has reached its usage limit of {subaccount.usage_limit}."
            )
    if capped and row is not None:
        used_messages, used_spend = row
        label = f"{period:%Y-%m}"
        alerts.check_cap(tenant, "message_cap", used_messages, billing.monthly_message_cap, label, "messages")
        if counter_currency:
            alerts.check_cap(
                tenant, "spend_cap", used_spend, billing.monthly_spend_cap, label, billing.spend_cap_currency
            )
    return reservation


def month_usage(tenant: Tenant, period: date, currency: str) -> tuple[int, Decimal]:
    """(outbound messages, outbound spend in `currency`) of the month starting at `period`,
    from the rollups (ledger tail included)."""
    rows = DailyUsage.objects.for_tenant(tenant).filter(
        day__gte=period, day__lt=month_bounds(period.year, period.month)[1], direction="outbound"
    )
    messages = rows.filter(kind__in=["sms", "mms"]).aggregate(n=Sum("count"))["n"] or 0
    spent = Decimal(0)
    if currency:
        spent = rows.filter(currency=currency).aggregate(c=Sum("cost"))["c"] or Decimal(0)
    return int(messages), spent


def _ensure_counter(tenant: Tenant, period: date, currency: str) -> None:
    """The month's counter, created from what the month already used."""
    if UsageCounter.objects.for_tenant(tenant).filter(period=period, currency=currency).exists():
        return
    messages, spent = month_usage(tenant, period, currency)
    try:
        with transaction.atomic():
            UsageCounter.objects.create(
                tenant=tenant, period=period, currency=currency, messages=messages, spent=spent
            )
    except IntegrityError:
        pass  # a concurrent send created it


def check_caps_now(tenant: Tenant) -> None:
    """Fire the cap alerts for what the month has used so far (e.g. right after a cap is set)."""
    billing = BillingSettings.objects.filter(tenant=tenant).first()
    if billing is None:
        return
    period = month_start(tenant)
    currency = billing.spend_cap_currency if billing.monthly_spend_cap is not None else ""
    messages, spent = month_usage(tenant, period, currency)
    label = f"{period:%Y-%m}"
    alerts.check_cap(tenant, "message_cap", messages, billing.monthly_message_cap, label, "messages")
    if currency:
        alerts.check_cap(tenant, "spend_cap", spent, billing.monthly_spend_cap, label, currency)


def _take_from_counter(tenant, billing, period, currency, messages, cost):
    table = UsageCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET messages = messages + %(n)s, spent = spent + %(cost)s
             WHERE tenant_id = %(tenant)s AND period = %(period)s AND currency = %(currency)s
               AND (%(msg_cap)s::bigint IS NULL OR messages + %(n)s <= %(msg_cap)s::bigint)
               AND (%(spend_cap)s::numeric IS NULL OR %(currency)s = ''
                    OR spent + %(cost)s <= %(spend_cap)s::numeric)
            RETURNING messages, spent
            """,  # noqa: S608 - table name is ours
            {
                "n": messages,
                "cost": cost,
                "tenant": tenant.pk,
                "period": period,
                "currency": currency,
                "msg_cap": billing.monthly_message_cap,
                "spend_cap": billing.monthly_spend_cap,
            },
        )
        return cursor.fetchone()


def _record_block(tenant, billing, period) -> None:
    label = f"{period:%Y-%m}"
    if billing.monthly_message_cap is not None:
        alerts.check_cap(
            tenant, "message_cap", billing.monthly_message_cap, billing.monthly_message_cap, label, "messages"
        )


def _cap_message(billing: BillingSettings) -> str:
    caps = []
    if billing.monthly_message_cap is not None:
        caps.append(f"{billing.monthly_message_cap} messages")
    if billing.monthly_spend_cap is not None:
        caps.append(f"{billing.monthly_spend_cap} {billing.spend_cap_currency}")
    return f"This month's usage limit ({' / '.join(caps)}) has been reached; the message was not sent."


def settle(tenant: Tenant, reservation: Reservation, actual_cost: Decimal | None, currency: str) -> None:
    """Replace the reserved estimate with the provider's price (no check: it was sent)."""
    if actual_cost is None:
        return
    delta = actual_cost - reservation.cost if reservation.currency == currency else Decimal(0)
    if delta and reservation.currency:
        UsageCounter.objects.for_tenant(tenant).filter(
            period=reservation.period, currency=reservation.currency
        ).update(spent=F("spent") + delta)
    if reservation.subaccount_id and actual_cost != reservation.cost:
        ProviderAccount.objects.filter(pk=reservation.subaccount_id, usage__isnull=False).update(
            usage=F("usage") + (actual_cost - reservation.cost)
        )


def release(tenant: Tenant, reservation: Reservation) -> None:
    """Give back what a send that never happened took."""
    UsageCounter.objects.for_tenant(tenant).filter(
        period=reservation.period, currency=reservation.currency
    ).update(messages=F("messages") - reservation.messages, spent=F("spent") - reservation.cost)
    if reservation.subaccount_id and reservation.cost:
        ProviderAccount.objects.filter(pk=reservation.subaccount_id, usage__isnull=False).update(
            usage=F("usage") - reservation.cost
        )
