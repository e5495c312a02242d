"""A local, stateful simulator of the 46elks, Sipcentric, Callr and jambonz APIs."""

from .core import (
    FaultRule,
    Ledger,
    ProviderSim,
    Sandbox,
    SandboxTransport,
    SimAccount,
    SimRequest,
    SimResponse,
)

__all__ = [
    "FaultRule",
    "Ledger",
    "ProviderSim",
    "Sandbox",
    "SandboxTransport",
    "SimAccount",
    "SimRequest",
    "SimResponse",
]
