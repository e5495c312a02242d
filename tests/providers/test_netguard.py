"""providers.netguard at connect time: a base URL that passed the save-time check but later
resolves to our own network (DNS rebinding) is refused before anything is sent."""

from __future__ import annotations

import socket

import httpcore
import pytest

from providers import connect, netguard
from providers.adapters.errors import Unavailable
from providers.models import ProviderAccount
from tests.api import factories as f

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class FakeStream(httpcore.NetworkStream):
    """A connection that answers every request with 200 {} and records what it was sent."""

    def __init__(self, sent: list[bytes]):
        self.sent = sent
        self.pending = b""

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sent.append(buffer)
        self.pending += ANSWER

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        chunk, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return chunk

    def close(self) -> None:
        pass

    def get_extra_info(self, info: str):
        return None


class FakeNetwork(httpcore.NetworkBackend):
    """Stands in for the socket layer: records the addresses connected to."""

    def __init__(self):
        self.connected: list[tuple[str, int]] = []
        self.sent: list[bytes] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append((host, port))
        return FakeStream(self.sent)


class FakeDns:
    """dns.answers["host"] = [addresses]; dns.lookups lists the hosts asked for."""

    def __init__(self):
        self.answers: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def getaddrinfo(self, host, port, *args, **kwargs):
        self.lookups.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in self.answers[host]]


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver: no test here reaches a real DNS server."""
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture
def network(monkeypatch):
    net = FakeNetwork()
    original = netguard.GuardedTransport.__init__

    def init(self, *, backend=None, **kwargs):
        original(self, backend=backend or net, **kwargs)

    monkeypatch.setattr(netguard.GuardedTransport, "__init__", init)
    return net


@pytest.fixture
def real_provider_account(settings, tenant_a):
    settings.SANDBOX_URL = "http://sandbox"
    settings.DEBUG = False
    account = f.provider_account(tenant_a, "jambonz")
    account.base_url = "http://jambonz.example.com/v1"
    account.save(update_fields=["base_url"])
    return account


def _get(account: ProviderAccount, path: str = "Accounts"):
    with connect.open_adapter(account, record=False) as adapter:
        return adapter.http.request("GET", path)


def test_public_host_is_connected_at_the_address_that_was_checked(dns, network, real_provider_account):
    dns.answers["jambonz.example.com"] = [PUBLIC_IP]

    response = _get(real_provider_account)

    assert response.status_code == 200
    assert network.connected == [(PUBLIC_IP, 80)]
    assert b"Host: jambonz.example.com" in b"".join(network.sent)


def test_a_reused_connection_is_not_resolved_again(dns, network, real_provider_account):
    dns.answers["jambonz.example.com"] = [PUBLIC_IP]

    with connect.open_adapter(real_provider_account, record=False) as adapter:
        adapter.http.request("GET", "Accounts")
        adapter.http.request("GET", "Applications")

    assert dns.lookups == ["jambonz.example.com"]
    assert len(network.connected) == 1


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["169.254.169.254"], ["::1"], [PUBLIC_IP, "192.168.1.1"], ["::ffff:127.0.0.1"]],
    ids=["private", "metadata", "loopback-v6", "one-bad-answer", "mapped-loopback"],
)
def test_rebinding_to_a_non_public_address_is_refused_and_nothing_is_sent(
    dns, network, real_provider_account, addresses
):
    dns.answers["jambonz.example.com"] = addresses

    with pytest.raises(Unavailable, match="refused: resolves to a non-public address") as exc:
        _get(real_provider_account)

    assert exc.value.request_sent is False
    assert network.connected == []
    assert network.sent == []


def test_an_unresolvable_host_is_a_connection_failure(dns, network, real_provider_account):
    with pytest.raises(Unavailable, match="Could not connect") as exc:
        _get(real_provider_account)

    assert exc.value.request_sent is False
    assert network.connected == []


def test_the_sandbox_is_not_checked(dns, network, real_provider_account):
    real_provider_account.base_url = "http://sandbox"

    assert connect.transport_for(real_provider_account) is None
    assert dns.lookups == []


def test_an_injected_test_transport_is_used_as_it_is(monkeypatch, real_provider_account):
    injected = object()
    monkeypatch.setattr(connect, "transport_factory", lambda account: injected)

    assert connect.transport_for(real_provider_account) is injected


def test_a_real_provider_url_gets_the_guarded_transport(real_provider_account):
    assert isinstance(connect.transport_for(real_provider_account), netguard.GuardedTransport)


def test_localhost_in_debug_is_a_developers_simulator(settings, real_provider_account):
    settings.DEBUG = True
    real_provider_account.base_url = "http://localhost:9000"

    assert connect.transport_for(real_provider_account) is None


def test_the_save_time_guard_uses_the_same_classification(dns, settings):
    from django.core.exceptions import ValidationError

    from providers import services

    settings.SANDBOX_URL = "http://sandbox"
    dns.answers["rebound.example.com"] = ["169.254.169.254"]

    with pytest.raises(ValidationError, match="private or internal"):
        services.validate_base_url("https://rebound.example.com")
    assert netguard.is_refused_address("169.254.169.254")
