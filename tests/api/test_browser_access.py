"""The API opened in a logged-in browser: the browsable API renders (never a 500), the
root lists the resources, empty filter values mean "any", and without an X-Tenant header
a session acts in the tenant it last opened in the dashboard."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership, Role
from tests.api import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenant_owner(owner_a, tenant_b):
    Membership.objects.create(tenant=tenant_b, user=owner_a, role=Role.OWNER)
    return owner_a


@pytest.mark.parametrize("path", ["/api/v1/messages/", "/api/v1/calls/", "/api/v1/audit-log/"])
def test_browsable_api_without_a_tenant_answers_400_not_500(client, two_tenant_owner, path):
    client.force_login(two_tenant_owner)

    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 400
    assert "X-Tenant" in response.content.decode()


@pytest.mark.parametrize("path", ["/api/v1/messages/", "/api/v1/calls/", "/api/v1/audit-log/"])
def test_browsable_api_renders_for_the_tenant_last_opened(client, two_tenant_owner, tenant_a, path):
    f.message(tenant_a, body="seen through the browsable api")
    client.force_login(two_tenant_owner)
    client.get(reverse("tenant-home", args=[tenant_a.slug]))

    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200


def test_session_without_header_reads_the_tenant_last_opened(client, two_tenant_owner, tenant_a, tenant_b):
    f.message(tenant_b, body="from b")
    client.force_login(two_tenant_owner)
    client.get(reverse("tenant-home", args=[tenant_b.slug]))

    body = client.get("/api/v1/messages/", HTTP_ACCEPT="application/json").json()

    assert [m["body"] for m in body["results"]] == ["from b"]


def test_header_wins_over_the_tenant_last_opened(client, two_tenant_owner, tenant_a, tenant_b):
    f.message(tenant_a, body="from a")
    client.force_login(two_tenant_owner)
    client.get(reverse("tenant-home", args=[tenant_b.slug]))

    body = client.get("/api/v1/messages/", HTTP_X_TENANT=tenant_a.slug).json()

    assert [m["body"] for m in body["results"]] == ["from a"]


def test_api_root_lists_the_resources(api_a):
    response = api_a.get("/api/v1/")

    assert response.status_code == 200
    assert "messages" in response.json() and "calls" in response.json()


@pytest.mark.parametrize(("path", "name"), [("/api/v1/messages/", "status"), ("/api/v1/calls/", "state")])
def test_an_empty_status_filter_means_any(api_a, tenant_a, path, name):
    f.message(tenant_a)
    f.call(tenant_a)

    response = api_a.get(path, {name: ""})

    assert response.status_code == 200 and len(response.json()["results"]) == 1


def _list_routes():
    from config.api import router

    for prefix, viewset, _ in router.registry:
        filterset = getattr(viewset, "filterset_class", None)
        if filterset is not None and hasattr(viewset, "list"):
            yield prefix, list(filterset.base_filters)


@pytest.mark.parametrize(("prefix", "names"), list(_list_routes()), ids=[p for p, _ in _list_routes()])
def test_every_list_filter_left_empty_means_any(api_a, tenant_a, prefix, names):
    response = api_a.get(f"/api/v1/{prefix}/", dict.fromkeys(names, ""))

    assert response.status_code == 200, response.json()
