"""`{{ m.cost|money:m.currency }}` → "0.35 SEK", "1 250.00 SEK", "0.0125 EUR".

Money is a Decimal plus an ISO currency: shown with two decimals (more only when the
amount has them, up to four: per-message prices), digits grouped, and its currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(value, currency: str = "") -> str:
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    places = 2
    normalized = amount.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        places = min(-exponent, 4)
    text = f"{amount:,.{places}f}".replace(",", "\u202f")  # narrow no-break space groups
    return f"{text} {currency}".strip() if currency else text
