"""The isolation matrix, generated over every registered route: tenant A's key never sees,
changes or learns of tenant B's rows (404 on every detail route; never in a list; a
foreign id in a filter is a 400 or an empty list)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api_filters import TenantChoiceFilter
from config.api import router

from .factories import make
from .helpers import results

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1/"


def detail_calls(viewset) -> list[tuple[str, str]]:
    """(method, url suffix) for every detail route and method the viewset answers."""
    calls = []
    for route in router.get_routes(viewset):
        if not route.detail:
            continue
        suffix = route.url.split("{lookup}", 1)[1].replace("{trailing_slash}", "/").rstrip("$")
        for method, action in route.mapping.items():
            if hasattr(viewset, action) and method in viewset.http_method_names:
                calls.append((method, suffix))
    return calls


VIEWSETS = [(prefix, viewset) for prefix, viewset, _ in router.registry]
MODEL_VIEWSETS = [(p, v) for p, v in VIEWSETS if getattr(v, "queryset", None) is not None]
WITH_DETAIL = [(p, v) for p, v in MODEL_VIEWSETS if detail_calls(v)]
FILTERED = [
    (prefix, name, f)
    for prefix, viewset in MODEL_VIEWSETS
    if getattr(viewset, "filterset_class", None)
    for name, f in viewset.filterset_class.base_filters.items()
    if isinstance(f, TenantChoiceFilter)
]


def row_identity(row: dict) -> int:
    # Aggregates (conversations) have no id of their own; they carry their last message.
    return row["id"] if "id" in row else row["last_message"]["id"]


def test_every_routed_viewset_serves_a_model_or_no_detail():
    # A viewset without a queryset would escape the matrix; it may only have list-level routes.
    for prefix, viewset in VIEWSETS:
        if getattr(viewset, "queryset", None) is None:
            assert not detail_calls(viewset), f"{prefix} has detail routes but no queryset"


@pytest.mark.parametrize(("prefix", "viewset"), WITH_DETAIL, ids=[p for p, _ in WITH_DETAIL])
def test_foreign_object_is_404_on_every_detail_route(prefix, viewset, tenant_a, tenant_b, api_a, api_b):
    theirs = make(viewset.queryset.model, tenant_b)
    calls = detail_calls(viewset)
    # Their own key sees it: the 404s below are about the tenant, not a bad URL.
    assert api_b.get(f"{PREFIX}{prefix}/{theirs.pk}/").status_code == 200
    for method, suffix in calls:
        response = getattr(api_a, method)(f"{PREFIX}{prefix}/{theirs.pk}{suffix}", {}, format="json")
        assert response.status_code == 404, (
            f"{method.upper()} {prefix}/{{id}}{suffix}: {response.status_code}"
        )
        assert response.json()["error"]["code"] == "not_found"
    assert viewset.queryset.model.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(("prefix", "viewset"), MODEL_VIEWSETS, ids=[p for p, _ in MODEL_VIEWSETS])
def test_list_never_contains_foreign_ids(prefix, viewset, tenant_a, tenant_b, api_a):
    model = viewset.queryset.model
    ours, theirs = make(model, tenant_a), make(model, tenant_b)
    response = api_a.get(f"{PREFIX}{prefix}/", {"page_size": 500})
    assert response.status_code == 200
    listed = {row_identity(row) for row in results(response)}
    assert ours.pk in listed
    assert theirs.pk not in listed


@pytest.mark.parametrize(("prefix", "name", "filter_"), FILTERED, ids=[f"{p}?{n}" for p, n, _ in FILTERED])
def test_foreign_id_in_a_filter_is_refused(prefix, name, filter_, tenant_a, tenant_b, api_a):
    from django.apps import apps

    model = filter_.model_ref
    model = apps.get_model(model) if isinstance(model, str) else model
    theirs = make(model, tenant_b)
    response = api_a.get(f"{PREFIX}{prefix}/", {name: theirs.pk})
    assert response.status_code == 400
    assert name in response.json()["error"]["fields"]


def test_session_of_another_tenant_member_is_404(client, user_b, tenant_a):
    theirs = make(viewset_model("messages"), tenant_a)
    client.force_login(user_b)
    assert client.get(f"{PREFIX}messages/{theirs.pk}/").status_code == 404


def viewset_model(prefix: str):
    return dict(VIEWSETS)[prefix].queryset.model


def test_anonymous_client_sees_nothing(tenant_a):
    assert APIClient().get(f"{PREFIX}messages/").status_code == 401
