import pytest

from accounts.api_base import TenantScopedViewSet
from accounts.models import ApiKey, hash_api_key

pytestmark = pytest.mark.django_db

CURRENT = "/api/v1/tenant/current/"


def test_valid_key_acts_in_its_tenant(api_a, tenant_a):
    response = api_a.get(CURRENT)
    assert response.status_code == 200
    assert response.json()["slug"] == tenant_a.slug


def test_missing_key_is_401(api):
    response = api().get(CURRENT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_key_is_401(api):
    assert api("sbk_not-a-real-key").get(CURRENT).status_code == 401


def test_revoked_key_is_401(api, tenant_a):
    key, raw = ApiKey.issue(tenant_a, "old")
    key.revoke()
    response = api(raw).get(CURRENT)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_only_a_hash_of_the_secret_is_stored(tenant_a):
    key, raw = ApiKey.issue(tenant_a, "k")
    assert key.key_hash == hash_api_key(raw)
    assert raw not in {key.key_hash, key.prefix}
    assert raw.startswith(key.prefix)


def test_key_use_is_recorded(api_a, tenant_a):
    api_a.get(CURRENT)
    assert ApiKey.objects.for_tenant(tenant_a).get().last_used_at is not None


def test_missing_scope_is_403(api, key_with_scopes):
    response = api(key_with_scopes("read")).get("/api/v1/api-keys/")
    assert response.status_code == 403
    assert "manage" in response.json()["error"]["message"]


def test_read_scope_may_read(api, key_with_scopes):
    assert api(key_with_scopes("read")).get(CURRENT).status_code == 200


def test_other_tenants_key_is_404(api_a, tenant_b, user_b):
    other, _ = ApiKey.issue(tenant_b, "b")
    assert api_a.get(f"/api/v1/api-keys/{other.pk}/").status_code == 404
    assert api_a.post(f"/api/v1/api-keys/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_list_never_contains_other_tenants_keys(api_a, api_key_b):
    names = {k["prefix"] for k in api_a.get("/api/v1/api-keys/").json()}
    assert api_key_b[:12] not in names


def test_issue_returns_the_secret_once(api_a, api):
    response = api_a.post("/api/v1/api-keys/", {"name": "ci", "scopes": ["read"]}, format="json")
    assert response.status_code == 201
    raw = response.json()["key"]
    assert api(raw).get(CURRENT).status_code == 200
    listed = api_a.get(f"/api/v1/api-keys/{response.json()['id']}/").json()
    assert "key" not in listed and "key_hash" not in listed


def test_unknown_scope_is_a_field_error(api_a):
    response = api_a.post("/api/v1/api-keys/", {"name": "x", "scopes": ["root"]}, format="json")
    assert response.status_code == 400
    assert "scopes" in response.json()["error"]["fields"]


def test_session_user_needs_x_tenant_with_several_tenants(client, member_a, tenant_b):
    from accounts.models import Membership

    Membership.objects.create(user=member_a, tenant=tenant_b, role="viewer")
    client.force_login(member_a)
    assert client.get(CURRENT).status_code == 400
    response = client.get(CURRENT, HTTP_X_TENANT=tenant_b.slug)
    assert response.json()["slug"] == tenant_b.slug


def test_session_user_cannot_name_a_foreign_tenant(client, member_a, tenant_b):
    client.force_login(member_a)
    assert client.get(CURRENT, HTTP_X_TENANT=tenant_b.slug).status_code == 404


def test_viewer_role_cannot_manage(client, viewer_a):
    client.force_login(viewer_a)
    assert client.get("/api/v1/api-keys/").status_code == 403


def test_viewset_overriding_get_queryset_is_refused():
    with pytest.raises(TypeError, match="safely_get_queryset"):

        class Leaky(TenantScopedViewSet):
            def get_queryset(self):
                return ApiKey.objects.all()
