"""The filter framework: foreign ids never validate, even in generated FilterSets."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts.api_filters import TenantChoiceFilter, TenantFilterSet
from messaging.models import Message

from .factories import provider_account

pytestmark = pytest.mark.django_db


class GeneratedFilter(TenantFilterSet):
    class Meta:
        model = Message
        fields = ["provider_account"]  # no explicit filter: generated from the FK


def bound(tenant, **params):
    request = RequestFactory().get("/", params)
    request.tenant = tenant
    return GeneratedFilter(params, queryset=Message.objects.for_tenant(tenant), request=request)


def test_generated_fk_filter_is_tenant_scoped(tenant_a, tenant_b):
    assert isinstance(GeneratedFilter.base_filters["provider_account"], TenantChoiceFilter)
    assert bound(tenant_a, provider_account=provider_account(tenant_a).pk).is_valid()
    assert not bound(tenant_a, provider_account=provider_account(tenant_b).pk).is_valid()


def test_unscoped_model_choice_filter_is_refused():
    import django_filters

    from providers.models import ProviderAccount

    class Leaky(TenantFilterSet):
        account = django_filters.ModelChoiceFilter(queryset=ProviderAccount.objects.all())

        class Meta:
            model = Message
            fields = ["account"]

    with pytest.raises(TypeError, match="must be a TenantChoiceFilter"):
        Leaky(data={}, queryset=Message.objects.none())
