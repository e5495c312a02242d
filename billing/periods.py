"""Billing periods are calendar months (and days) in the tenant's time zone."""

from __future__ import annotations

import re
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


MONTH = re.compile(r"(\d{4})-(\d{2})")
# Statements exist for months a tenant can have traffic in; anything else is a typo (and
# year 0 or 9999-12 would overflow the calendar).
FIRST_YEAR, LAST_YEAR = 1970, 2999


def parse_month(text: str) -> tuple[int, int] | None:
    """Parse "2026-11" to (2026, 11); None unless it is YYYY-MM within the supported years."""
    match = MONTH.fullmatch(text or "")
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        return None
    return year, month
