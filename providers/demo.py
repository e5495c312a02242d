"""The demo's provider side: each demo tenant gets one sandbox connection per provider."""

from __future__ import annotations

from django.conf import settings

from .sandbox_accounts import connect_sandbox_account

PROVIDER_NAMES = {
    "46elks": "46elks (sandbox)",
    "sipcentric": "Sipcentric (sandbox)",
    "callr": "Callr (sandbox)",
    "jambonz": "jambonz (sandbox)",
}


def load_demo_connections(tenants, stdout=None) -> None:
    for index, tenant in enumerate(tenants):
        for provider, name in PROVIDER_NAMES.items():
            connect_sandbox_account(
                tenant,
                provider,
                settings.SANDBOX_URL,
                label=f"demo-{tenant.slug}-{provider}",
                name=name,
                seed=100 + index,
                size=400 if index == 0 else 150,
            )
    if stdout is not None:
        stdout.write(f"Sandbox connections: {len(PROVIDER_NAMES)} per demo tenant at {settings.SANDBOX_URL}")
