"""providers.services: connecting, editing, enabling, deleting accounts and subaccounts,
and the base URL guard that keeps tenant-chosen URLs off our own network."""

from __future__ import annotations

import ipaddress
import socket
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditLog
from messaging.models import Message
from providers import services
from providers.adapters import NotSupported
from providers.models import ProviderAccount, SyncRun
from tests.api import factories as f

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"
HOSTS = {
    "api.example.com": [PUBLIC_IP],
    "jambonz.example.com": [PUBLIC_IP, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "intranet.example.com": ["10.1.2.3"],
    "sneaky.example.com": [PUBLIC_IP, "192.168.0.9"],  # one bad answer is enough
    "metadata.example.com": ["169.254.169.254"],
    "azure-wire.example.com": ["168.63.129.16"],
    "loop.example.com": ["127.0.0.1"],
    "mapped.example.com": ["::ffff:10.0.0.1"],
    "ula.example.com": ["fd00:ec2::254"],
    "cgnat.example.com": ["100.100.100.200"],
}


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """A fake resolver: no test here reaches a real DNS server."""

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            addresses = HOSTS.get(host) or [str(ipaddress.ip_address(host))]
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def _sandbox_url(settings):
    settings.SANDBOX_URL = "http://sandbox"
    settings.DEBUG = False


# -- base URL guard ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["https://api.example.com/a1", "https://jambonz.example.com:8443/v1/", f"https://{PUBLIC_IP}/v1"]
)
def test_public_https_urls_are_accepted(url):
    assert services.validate_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "host",
    [
        "intranet.example.com",
        "sneaky.example.com",
        "metadata.example.com",
        "azure-wire.example.com",
        "loop.example.com",
        "mapped.example.com",
        "ula.example.com",
        "cgnat.example.com",
        "10.0.0.5",
        "172.16.4.4",
        "127.0.0.1",
        "[::1]",
        "169.254.169.254",
        "0.0.0.0",
    ],
)
def test_internal_addresses_are_refused(host):
    with pytest.raises(ValidationError, match="private or internal address"):
        services.validate_base_url(f"https://{host}/v1")


def test_plain_http_is_refused():
    with pytest.raises(ValidationError, match="must use https"):
        services.validate_base_url("http://api.example.com/a1")


def test_the_sandbox_is_allowed_over_http():
    assert services.validate_base_url("http://sandbox/46elks/a1") == "http://sandbox/46elks/a1"


def test_another_port_of_the_sandbox_host_is_not_the_sandbox():
    with pytest.raises(ValidationError):
        services.validate_base_url("http://sandbox:6379/")


def test_localhost_over_http_only_in_debug(settings):
    with pytest.raises(ValidationError):
        services.validate_base_url("http://localhost:9000/v1")
    settings.DEBUG = True
    assert services.validate_base_url("http://localhost:9000/v1") == "http://localhost:9000/v1"


def test_unresolvable_host_is_refused():
    with pytest.raises(ValidationError, match="Cannot resolve"):
        services.validate_base_url("https://nowhere.invalid/v1")


@pytest.mark.parametrize("url", ["ftp://api.example.com/", "https://", "https://u:p@api.example.com/"])
def test_malformed_urls_are_refused(url):
    with pytest.raises(ValidationError):
        services.validate_base_url(url)


# -- connect and update ------------------------------------------------------------------------
def test_connect_encrypts_credentials_and_audits_without_them(tenant_a, owner_a):
    account = services.connect_account(
        tenant_a, "46elks", " Elks ", {"username": "u1", "password": "s3cret"}, actor=owner_a
    )
    assert (account.name, account.credentials) == ("Elks", {"username": "u1", "password": "s3cret"})
    assert "s3cret" not in account.credentials_encrypted
    entry = AuditLog.objects.for_tenant(tenant_a).get(action="provider_account.create")
    assert entry.actor == owner_a and "s3cret" not in str(entry.data)


def test_connect_refuses_a_credential_shape_by_field(tenant_a):
    with pytest.raises(ValidationError) as exc:
        services.connect_account(tenant_a, "callr", "c", {"login": "only"})
    assert "credentials" in exc.value.message_dict
    assert not ProviderAccount.objects.for_tenant(tenant_a).exists()


def test_connect_jambonz_needs_a_base_url(tenant_a):
    with pytest.raises(ValidationError) as exc:
        services.connect_account(tenant_a, "jambonz", "j", {"api_key": "k", "account_sid": "s"})
    assert "self-hosted" in exc.value.message_dict["base_url"][0]


def test_connect_jambonz_on_any_public_https_host(tenant_a):
    account = services.connect_account(
        tenant_a,
        "jambonz",
        "j",
        {"api_key": "k", "account_sid": "s"},
        base_url="https://jambonz.example.com/v1",
    )
    assert account.effective_base_url == "https://jambonz.example.com/v1"


def test_connect_to_an_internal_host_is_refused_by_field(tenant_a):
    with pytest.raises(ValidationError) as exc:
        services.connect_account(
            tenant_a, "46elks", "e", {"username": "u", "password": "p"}, base_url="https://10.0.0.1/"
        )
    assert "base_url" in exc.value.message_dict


def test_update_keeps_credentials_unless_given(tenant_a):
    account = f.provider_account(tenant_a)
    before = account.credentials
    services.update_account(account, name="Renamed", sync_interval=30)
    account.refresh_from_db()
    assert (account.name, account.sync_interval, account.credentials) == ("Renamed", 30, before)


def test_update_replaces_credentials_and_gives_an_erroring_account_another_try(tenant_a, owner_a):
    account = f.provider_account(tenant_a, status=ProviderAccount.Status.ERROR)
    services.update_account(account, credentials={"username": "new", "password": "pw2"}, actor=owner_a)
    account.refresh_from_db()
    assert account.credentials == {"username": "new", "password": "pw2"}
    assert account.status == ProviderAccount.Status.ACTIVE
    entry = AuditLog.objects.for_tenant(tenant_a).get(action="provider_account.update")
    assert entry.data == {"fields": ["credentials"]}


def test_update_refuses_out_of_range_values(tenant_a):
    account = f.provider_account(tenant_a)
    with pytest.raises(ValidationError) as exc:
        services.update_account(account, sync_interval=0, send_rate=5000)
    assert set(exc.value.message_dict) == {"sync_interval", "send_rate"}


def test_update_with_the_same_values_changes_nothing(tenant_a):
    account = f.provider_account(tenant_a)
    services.update_account(account, name=account.name, sync_interval=account.sync_interval)
    assert not AuditLog.objects.for_tenant(tenant_a).exists()


def test_unchanged_legacy_base_url_does_not_block_an_edit(tenant_a):
    account = f.provider_account(tenant_a, base_url="http://10.0.0.9/a1")  # saved before the guard
    services.update_account(account, base_url="http://10.0.0.9/a1", name="still editable")
    assert ProviderAccount.objects.get(pk=account.pk).name == "still editable"


def test_subaccounts_follow_their_roots_base_url(tenant_a):
    root = f.provider_account(tenant_a, base_url="https://api.example.com/a1")
    child = f.provider_account(tenant_a, parent=root, remote_account_id="s1", base_url=root.base_url)
    services.update_account(root, base_url="https://jambonz.example.com/a1")
    child.refresh_from_db()
    assert child.base_url == "https://jambonz.example.com/a1"


# -- enable / disable --------------------------------------------------------------------------
def test_disable_stops_syncs_and_sends(tenant_a):
    from outbound.checks import check_account
    from providers.adapters.records import Capability
    from providers.tasks import due_accounts

    account = f.provider_account(tenant_a)
    queued = SyncRun.objects.create(tenant=tenant_a, account=account)
    services.set_account_enabled(account, False)
    assert account.status == ProviderAccount.Status.DISABLED
    assert account not in due_accounts()
    assert "disabled" in check_account(tenant_a, account, Capability.SEND_SMS)[0]
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.FAILED


def test_disabling_a_root_disables_its_subaccounts_and_enabling_restores_only_those(tenant_a):
    root = f.provider_account(tenant_a)
    active = f.provider_account(tenant_a, parent=root, remote_account_id="s1")
    closed = f.provider_account(
        tenant_a, parent=root, remote_account_id="s2", status=ProviderAccount.Status.DISABLED
    )
    services.set_account_enabled(root, False)
    assert ProviderAccount.objects.get(pk=active.pk).status == ProviderAccount.Status.DISABLED
    services.set_account_enabled(root, True)
    statuses = dict(ProviderAccount.objects.filter(parent=root).values_list("pk", "status"))
    assert statuses == {active.pk: "active", closed.pk: "disabled"}
    assert ProviderAccount.objects.get(pk=root.pk).status == ProviderAccount.Status.ACTIVE


def test_enabling_an_active_account_changes_nothing(tenant_a):
    account = f.provider_account(tenant_a)
    services.set_account_enabled(account, True)
    assert not AuditLog.objects.for_tenant(tenant_a).exists()


# -- delete ------------------------------------------------------------------------------------
def test_delete_marks_the_account_and_audits_it(tenant_a, monkeypatch):
    from providers import tasks

    monkeypatch.setattr(tasks.delete_account_task, "delay", lambda account_id: None)
    account = f.root_account(tenant_a)
    message = f.message(tenant_a)
    assert services.deletion_summary(account)["messages"] == 1
    services.delete_account(account)
    assert account.status == ProviderAccount.Status.DELETING
    assert Message.objects.filter(pk=message.pk).exists()  # the task removes it, not the request
    assert AuditLog.objects.for_tenant(tenant_a).filter(action="provider_account.delete").exists()


# -- subaccounts -------------------------------------------------------------------------------
def test_create_subaccount_at_46elks_goes_through_the_importer(tenant_a, owner_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=5)
    child = services.create_subaccount(parent, "Shop", Decimal("250"), actor=owner_a)
    assert (child.parent_id, child.name, child.usage_limit) == (parent.pk, "Shop", Decimal("250"))
    assert child.remote_account_id and child.tenant_id == tenant_a.pk


def test_update_subaccount_clears_the_limit_with_none(tenant_a, sandbox_account):
    parent = sandbox_account(tenant_a, "46elks", size=5)
    child = services.create_subaccount(parent, "Shop", Decimal("10"))
    child = services.update_subaccount(child, name="Shop 2", usage_limit=None)
    assert (child.name, child.usage_limit) == ("Shop 2", None)


def test_subaccounts_where_the_provider_has_none_are_not_supported(tenant_a):
    parent = f.provider_account(tenant_a, "sipcentric")
    with pytest.raises(NotSupported, match=r"Sipcentric does not support creating subaccounts\."):
        services.create_subaccount(parent, "Shop")
    assert not parent.subaccounts.exists()


# -- the same guard in the API and the admin ---------------------------------------------------
def test_api_refuses_an_internal_base_url(api_a, tenant_a):
    account = f.provider_account(tenant_a)
    response = api_a.patch(
        f"/api/v1/provider-accounts/{account.pk}/",
        {"base_url": "https://intranet.example.com/"},
        format="json",
    )
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["fields"]
    assert ProviderAccount.objects.get(pk=account.pk).base_url == ""


def test_admin_form_refuses_an_internal_base_url(tenant_a):
    from providers.admin import ProviderAccountForm

    account = f.provider_account(tenant_a)
    data = {
        "tenant": tenant_a.pk,
        "provider": "46elks",
        "name": account.name,
        "base_url": "https://metadata.example.com/",
        "status": "active",
        "sync_interval": 15,
        "send_rate": 5,
        "options": "{}",
    }
    form = ProviderAccountForm(data, instance=account)
    assert not form.is_valid()
    assert "private or internal address" in form.errors["base_url"][0]
