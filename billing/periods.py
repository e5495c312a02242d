"""Billing periods are calendar months (and days) in the tenant's time zone."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from django.utils import timezone

from accounts.models import Tenant


def local_date(tenant: Tenant, moment: datetime | None = None) -> date:
    moment = moment or timezone.now()
    return moment.astimezone(zoneinfo.ZoneInfo(tenant.timezone)).date()


def month_start(tenant: Tenant, moment: datetime | None = None) -> date:
    return local_date(tenant, moment).replace(day=1)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """[first day, first day of the next month)."""
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt
