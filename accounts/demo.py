"""The demo data `make run` shows a newcomer. Other apps extend it (sandbox connections)."""

from __future__ import annotations

from django.db import transaction

from .models import Membership, Role, Tenant, User

DEMO_EMAIL = "demo@switchboard.local"
DEMO_PASSWORD = "switchboard-demo"
DEMO_TENANTS = [
    ("acme", "Acme Telecom", "Europe/Stockholm", "SEK"),
    ("globex", "Globex Retail", "Europe/London", "GBP"),
]


@transaction.atomic
def load_demo_tenants() -> tuple[User, list[Tenant]]:
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, name="Demo Operator")
    tenants = []
    for slug, name, tz, currency in DEMO_TENANTS:
        tenant, _ = Tenant.objects.get_or_create(
            slug=slug, defaults={"name": name, "timezone": tz, "default_currency": currency}
        )
        Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.OWNER})
        tenants.append(tenant)
    return user, tenants
