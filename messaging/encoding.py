"""How a message body is encoded and split into parts, and the rules a body must meet."""

from __future__ import annotations

from django.conf import settings

from .models import Encoding, Kind

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each (escape + char)


def sms_parts(body: str) -> tuple[str, int]:
    """(encoding, parts) as a handset counts them: GSM-7 160 septets or 153 per part of a
    concatenated message, extension characters counting two; otherwise UCS-2, 70 or 67
    UTF-16 units per part (a character outside the BMP takes two)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in body)
        single, multi, encoding = 160, 153, Encoding.GSM7
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, Encoding.UCS2
    if units <= single:
        return str(encoding), 1
    return str(encoding), -(-units // multi)


def check_body(body: str, kind: str, media: list[str]) -> tuple[str, int, list[str]]:
    encoding, parts = sms_parts(body or "")
    problems = []
    if kind == Kind.MMS:
        if not (body or "").strip() and not media:
            problems.append("An MMS needs a text or an image.")
        return encoding, 1, problems
    if not (body or "").strip():
        problems.append("The message is empty.")
    elif parts > settings.SMS_MAX_PARTS:
        problems.append(
            f"The message needs {parts} parts ({'GSM-7' if encoding == Encoding.GSM7 else 'UCS-2'}); "
            f"at most {settings.SMS_MAX_PARTS} are allowed."
        )
    return encoding, parts, problems
