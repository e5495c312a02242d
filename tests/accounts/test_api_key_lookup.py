"""The API key lookup (accounts.api_auth.find_key): one statement through the database
function of migration accounts/0004, with no bypass scope of its own. Nothing is cached,
so a revoked key or a deactivated tenant is refused by the next request, whichever server
thread and database connection answers it."""

from __future__ import annotations

import httpx
import pytest
from django.db import connection

from accounts import rls
from accounts.api_auth import find_key
from accounts.models import ApiKey, Tenant, hash_api_key

CURRENT = "/api/v1/tenant/current/"


def _settings() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.tenant_id', true), current_setting('app.rls_bypass', true)"
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_a_key_is_found_by_its_hash_with_its_tenant_while_seeing_no_tenant(tenant_a):
    key, raw = ApiKey.issue(tenant_a, "k", scopes=["read"])

    with rls.no_tenant():
        found = find_key(hash_api_key(raw))

    assert found.pk == key.pk
    assert found.scopes == ["read"]
    assert found.tenant.pk == tenant_a.pk
    assert found.tenant.timezone == tenant_a.timezone


@pytest.mark.django_db
def test_an_unknown_hash_finds_nothing(tenant_a):
    ApiKey.issue(tenant_a, "k")

    with rls.no_tenant():
        assert find_key(hash_api_key("sbk_not-a-real-key")) is None


@pytest.mark.django_db
def test_the_lookup_leaves_the_connection_seeing_nothing(tenant_a):
    _, raw = ApiKey.issue(tenant_a, "k")

    with rls.no_tenant():
        find_key(hash_api_key(raw))
        assert _settings() == ("", "")
        with connection.cursor() as cursor:  # the bypass ended with the function
            cursor.execute("SELECT count(*) FROM accounts_apikey")
            assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_the_lookup_keeps_the_tenant_the_connection_is_set_to(tenant_a, tenant_b):
    _, raw = ApiKey.issue(tenant_b, "k")

    with rls.tenant_context(tenant_a):
        assert find_key(hash_api_key(raw)).tenant.pk == tenant_b.pk
        assert _settings() == (str(tenant_a.pk), "")


# -- through a server thread with its own connection ------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_by_the_next_request(live_server, tenant_a):
    key, raw = ApiKey.issue(tenant_a, "k")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {raw}"}) as client:
        assert client.get(CURRENT).status_code == 200

        key.revoke()  # on the test's connection, committed

        assert client.get(CURRENT).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_tenants_key_is_refused_by_the_next_request(live_server, tenant_a):
    _, raw = ApiKey.issue(tenant_a, "k")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {raw}"}) as client:
        assert client.get(CURRENT).status_code == 200

        Tenant.objects.filter(pk=tenant_a.pk).update(active=False)

        assert client.get(CURRENT).status_code == 401
