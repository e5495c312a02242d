"""One search box across a tenant's messages, calls and numbers (the top bar's).

A phone number (digits, optionally with +) is matched as a prefix of from/to on the
indexed columns over all history; other text matches message bodies of the last
TEXT_DAYS days (trigram index) and number names/purposes, and the page says so."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from accounts.api_filters import number_query
from accounts.tenancy import tenant_qs
from calls.models import Call
from messaging.models import Message
from numbers.models import PhoneNumber

TEXT_DAYS = 30
LIMIT = 20


def search(request):
    q = request.GET.get("q", "").strip()[:100]
    context: dict = {"q": q, "text_days": TEXT_DAYS, "limit": LIMIT}
    if q:
        by_number = number_query(q, "from_number", "to_number")
        messages = tenant_qs(request, Message).select_related("provider_account")
        calls = tenant_qs(request, Call).select_related("provider_account")
        numbers = tenant_qs(request, PhoneNumber).select_related("provider_account")
        if by_number is not None:
            compact = q.replace(" ", "").replace("-", "")
            messages = messages.filter(by_number)
            calls = calls.filter(by_number)
            numbers = numbers.filter(number__startswith=compact)
        else:
            since = timezone.now() - timedelta(days=TEXT_DAYS)
            messages = messages.filter(created_at__gte=since, body__icontains=q)
            calls = calls.none()
            numbers = numbers.filter(Q(name__icontains=q) | Q(purpose__icontains=q))
        context.update(
            {
                "is_number": by_number is not None,
                "messages": list(messages.order_by("-created_at", "-id")[:LIMIT]),
                "calls": list(calls.order_by("-created_at", "-id")[:LIMIT]),
                "numbers": list(numbers.order_by("number")[:LIMIT]),
            }
        )
    return render(request, "dashboard/search.html", context)


CONTACT_LIMIT = 200


def contact(request):
    """Everything with one counterpart, across providers: their messages and calls in one
    timeline, newest first (the last CONTACT_LIMIT of each)."""
    number = request.GET.get("number", "").strip().replace(" ", "")
    if number and not number.startswith("+") and number.isdigit():
        number = "+" + number
    context: dict = {"number": number, "limit": CONTACT_LIMIT}
    if number:
        with_them = Q(from_number=number) | Q(to_number=number)
        messages = (
            tenant_qs(request, Message)
            .filter(with_them)
            .select_related("provider_account")
            .order_by("-created_at", "-id")[:CONTACT_LIMIT]
        )
        calls = (
            tenant_qs(request, Call)
            .filter(with_them)
            .select_related("provider_account")
            .order_by("-created_at", "-id")[:CONTACT_LIMIT]
        )
        events = [("message", m.created_at, m) for m in messages] + [("call", c.created_at, c) for c in calls]
        events.sort(key=lambda e: e[1], reverse=True)
        ours = {m.to_number if m.from_number == number else m.from_number for m in messages}
        context.update(
            {
                "events": events,
                "accounts": sorted({e[2].provider_account.name for e in events}),
                "our_numbers": sorted(ours),
            }
        )
    return render(request, "dashboard/contact.html", context)
