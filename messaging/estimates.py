"""What a message will cost before it is sent: the provider's dry run where it has one,
otherwise the account's recent average per part (also what a send reserves from the limits)."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache as django_cache
from django.db.models import Sum
from django.utils import timezone

from outbound.checks import SendRejected, parse_number
from providers.adapters.errors import ProviderError
from providers.adapters.records import Capability, PriceEstimate, SmsRequest
from providers.connect import open_adapter
from providers.importing import owners
from providers.models import ProviderAccount

from .checks import Checked, check_common
from .models import DirectionChoice, Kind, Message

logger = logging.getLogger(__name__)


class NoEstimate(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


ESTIMATE_CACHE_SECONDS = 60


def history_estimate(account: ProviderAccount, parts: int) -> PriceEstimate | None:
    """Average cost per part of this account's priced outbound messages of the last 30 days,
    in their most used currency. Cached for a minute: every send asks, and the answer is an
    average over a month."""
    root, sub = owners(account)
    key = f"send-estimate:{root.pk}:{sub.pk if sub else 0}"
    per_part = django_cache.get(key)
    if per_part is None:
        per_part = _cost_per_part(root, sub) or ()
        django_cache.set(key, per_part, ESTIMATE_CACHE_SECONDS)
    if not per_part:
        return None
    cost, currency = per_part
    return PriceEstimate(
        cost=(cost * parts).quantize(Decimal("0.0001")), currency=currency, parts=parts, source="history"
    )


def _cost_per_part(root: ProviderAccount, sub: ProviderAccount | None) -> tuple[Decimal, str] | None:
    rows = (
        Message.objects.for_tenant(root.tenant_id)
        .filter(
            provider_account=root,
            direction=DirectionChoice.OUTBOUND,
            kind=Kind.SMS,
            created_at__gte=timezone.now() - timedelta(days=30),
            cost__isnull=False,
            cost_estimated=False,
            parts__gt=0,
        )
        .exclude(currency="")
    )
    if sub is not None:
        rows = rows.filter(subaccount=sub)
    totals = list(
        rows.values("currency").annotate(cost=Sum("cost"), parts=Sum("parts")).order_by("-parts")[:1]
    )
    if not totals or not totals[0]["parts"]:
        return None
    return totals[0]["cost"] / totals[0]["parts"], totals[0]["currency"]


def estimate_for(checked: Checked) -> PriceEstimate | None:
    return history_estimate(checked.account, checked.parts) if checked.kind == Kind.SMS else None


def estimate_message(account: ProviderAccount, from_number: str, to: str, body: str) -> PriceEstimate:
    """The provider's dry run where it has one (Capability.DRY_RUN), otherwise our average cost per part
    from this account's recent history. Raises SendRejected on invalid input and NoEstimate
    (with the reason) when neither is possible."""
    tenant = account.tenant
    checked, errors = check_common(tenant, account, from_number, body, Kind.SMS, ())
    try:
        to_e164 = parse_number(to, checked.region if checked else None)
    except ValueError as exc:
        errors["to"].append(str(exc))
    if any(errors.values()) or checked is None:
        raise SendRejected(errors)
    if account.can(Capability.DRY_RUN):
        with open_adapter(account) as adapter:
            try:
                return adapter.estimate_sms(SmsRequest(checked.sender, to_e164, body))
            except ProviderError as exc:
                logger.info("Dry run failed for account %s: %s", account.pk, exc.message)
                dry_run_error = exc.message
    else:
        dry_run_error = ""
    estimate = history_estimate(account, checked.parts)
    if estimate is None:
        reason = "No priced messages were sent through this account in the last 30 days"
        if dry_run_error:
            reason += f", and the provider's dry run failed: {dry_run_error}"
        raise NoEstimate(reason + ".")
    return estimate
