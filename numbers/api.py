"""REST resources of the numbers app."""

from __future__ import annotations

from rest_framework import mixins

from accounts.api_base import TenantScopedViewSet

from .filters import PhoneNumberFilter
from .models import PhoneNumber
from .serializers import PhoneNumberSerializer


class PhoneNumberViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TenantScopedViewSet
):
    """Numbers held at the providers, as last synced. PATCH changes only our `purpose` note
    (needs `manage`); the provider side is changed by a sync or a numbers service."""

    queryset = PhoneNumber.objects.all()
    serializer_class = PhoneNumberSerializer
    filterset_class = PhoneNumberFilter
    http_method_names = ["get", "patch", "head", "options"]
