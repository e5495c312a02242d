"""A provider's name appears only in its adapter, its sandbox simulator and the registry:
everything else asks the adapter class (docs/adding-a-provider.md)."""

from __future__ import annotations

import re
from pathlib import Path

from providers.adapters import registry
from sandbox.core import default_sims

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "accounts",
    "billing",
    "calls",
    "config",
    "core",
    "dashboard",
    "messaging",
    "numbers",
    "outbound",
    "providers",
)
# Where provider names belong.
ALLOWED = ("providers/adapters/", "providers/adapters/registry.py", "/migrations/")


def provider_names() -> set[str]:
    names = set(registry.ADAPTERS)
    for cls in registry.adapter_classes():
        names |= {cls.name, cls.__module__.split(".")[2]}  # 46elks, elks46 …
    return {name.lower() for name in names} | {"elks"}


def domain_files() -> list[Path]:
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    files += list((ROOT / "templates").rglob("*.html"))
    return sorted(
        p
        for p in files
        if not any(part in str(p.relative_to(ROOT)) for part in ALLOWED)
    )


def test_no_module_outside_the_adapters_sandbox_and_registry_names_a_provider():
    pattern = re.compile(
        r"(?<![a-z0-9])("
        + "|".join(map(re.escape, sorted(provider_names(), key=len, reverse=True)))
        + r")(?![a-z0-9])",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in domain_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]

    assert found == []


def test_the_check_sees_a_provider_name():
    # The grep above is only worth something if it matches what it looks for.
    pattern = "|".join(provider_names())

    assert re.search(pattern, 'if account.provider == "jambonz":', re.IGNORECASE)
    assert re.search(pattern, "# 46elks keeps audio 72 hours", re.IGNORECASE)


def test_every_registered_provider_has_one_sandbox_simulator_and_no_more():
    assert sorted(sim.code for sim in default_sims()) == sorted(registry.codes())


def test_every_registered_adapter_declares_the_code_it_is_registered_under():
    assert [cls.code for cls in registry.adapter_classes()] == list(registry.codes())
