"""The providers Switchboard speaks to: the one list of them.

Everything that differs per provider is asked of its adapter class (capabilities, credential
shapes and labels, sender-id rules, webhook kinds, base-URL requirement, subaccount
identity …); this module only says which adapter class serves which provider code. The
model's choices, the forms and the API's fields, the demo and the sandbox bridge are
built from it.
Adding a provider: docs/adding-a-provider.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import NotSupported

if TYPE_CHECKING:
    from .base import Adapter

# Provider code -> its adapter class (a dotted path, imported on first use). The code is
# what a ProviderAccount row stores; it never changes once accounts use it.
ADAPTERS: dict[str, str] = {
    "46elks": "providers.adapters.elks46.Elks46Adapter",
    "sipcentric": "providers.adapters.sipcentric.SipcentricAdapter",
    "callr": "providers.adapters.callr.CallrAdapter",
    "jambonz": "providers.adapters.jambonz.JambonzAdapter",
}

# Keys the connect forms show as password fields, whichever provider asks for them.
SECRET_CREDENTIALS = frozenset({"password", "api_key", "secret", "token"})

_classes: dict[str, type[Adapter]] = {}


def codes() -> tuple[str, ...]:
    return tuple(ADAPTERS)


def adapter_class(code: str) -> type[Adapter]:
    if code not in _classes:
        try:
            module_path, name = ADAPTERS[code].rsplit(".", 1)
        except KeyError:
            raise NotSupported(f"Unknown provider {code!r}.") from None
        cls: type[Adapter] = getattr(import_module(module_path), name)
        if cls.code != code:
            raise ImportError(f"{cls.__qualname__} declares code {cls.code!r}, registered as {code!r}")
        _classes[code] = cls
    return _classes[code]


def adapter_classes() -> list[type[Adapter]]:
    return [adapter_class(code) for code in ADAPTERS]


def choices() -> list[tuple[str, str]]:
    """(code, display name) of every provider, for model and form choices."""
    return [(cls.code, cls.name) for cls in adapter_classes()]


def credential_keys() -> list[str]:
    """Every credential key some provider accepts, in registry order (the connect form's fields)."""
    keys: list[str] = []
    for cls in adapter_classes():
        keys += [key for key in cls.credential_keys() if key not in keys]
    return keys


def base_url_help() -> str:
    """The base URL field's help text: which providers need one."""
    needed = [cls.name for cls in adapter_classes() if cls.base_url_required]
    suffix = f" (required for {' and '.join(needed)})" if needed else ""
    return f"Leave empty for the provider's real API{suffix}."


def credential_shapes_help() -> str:
    """The credential shapes of every provider in words, for the API schema."""
    shapes = []
    for cls in adapter_classes():
        alternatives = " or ".join(
            "{" + ",".join(f'"{k}"' for k in shape) + "}" for shape in cls.credential_shapes
        )
        shapes.append(f"{cls.name} {alternatives}")
    return "Shapes: " + "; ".join(shapes) + "."
