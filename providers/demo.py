"""The demo's provider side: each demo tenant gets one sandbox connection per provider."""

from __future__ import annotations

from django.conf import settings

from .adapters import registry
from .sandbox_accounts import connect_sandbox_account


def load_demo_connections(tenants, stdout=None) -> None:
    """Every provider of the registry, connected to the sandbox, for each demo tenant."""
    providers = registry.choices()
    for index, tenant in enumerate(tenants):
        for provider, name in providers:
            connect_sandbox_account(
                tenant,
                provider,
                settings.SANDBOX_URL,
                label=f"demo-{tenant.slug}-{provider}",
                name=f"{name} (sandbox)",
                seed=100 + index,
                size=400 if index == 0 else 150,
            )
    if stdout is not None:
        stdout.write(f"Sandbox connections: {len(providers)} per demo tenant at {settings.SANDBOX_URL}")
