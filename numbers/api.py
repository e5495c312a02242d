"""REST resources of the numbers app: numbers as last synced, and changes at the provider
(allocate, configure, route to Switchboard, release) through numbers.services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import TenantScopedViewSet
from accounts.models import Scope
from providers.adapters.records import NumberConfig
from providers.api import ERROR_422, provider_errors
from providers.models import ProviderAccount

from . import services
from .filters import PhoneNumberFilter
from .models import PhoneNumber
from .serializers import AllocateNumberSerializer, ConfigureNumberSerializer, PhoneNumberSerializer


class PhoneNumberViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TenantScopedViewSet
):
    """Numbers held at the providers, as last synced. PATCH changes only our `purpose` note;
    allocating, configuring and releasing go through the provider (where it supports them:
    422 otherwise). Every write needs the `manage` scope."""

    queryset = PhoneNumber.objects.all()
    serializer_class = PhoneNumberSerializer
    filterset_class = PhoneNumberFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_scopes = {
        "create": Scope.MANAGE,
        "configure": Scope.MANAGE,
        "route_to_switchboard": Scope.MANAGE,
        "release": Scope.MANAGE,
    }
    extra_error_statuses = {
        "create": [422],
        "configure": [422],
        "route_to_switchboard": [422],
        "release": [422],
    }

    def safely_get_queryset(self, queryset):
        return queryset.select_related("provider_account", "subaccount")

    def _answer(self, number: PhoneNumber, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(number).data, status=code)

    @extend_schema(
        summary="Allocate a number",
        description="Rents a new number at the provider and stores it. 422 when the provider "
        "cannot allocate numbers through its API or refuses (e.g. none available in the country).",
        request=AllocateNumberSerializer,
        responses={201: PhoneNumberSerializer, 422: ERROR_422},
    )
    def create(self, request):
        serializer = AllocateNumberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = ProviderAccount.objects.for_tenant(self.tenant).filter(pk=data["provider_account"]).first()
        if account is None:  # another tenant's account is not revealed
            raise exceptions.ValidationError({"provider_account": ["Unknown provider account."]})
        with provider_errors():
            number = services.allocate_number(
                self.tenant, account, data["country"], data["capabilities"], created_by=request
            )
        return self._answer(number, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Configure a number at the provider",
        description='Webhook URLs and name; a field left out is unchanged, "" clears it.',
        request=ConfigureNumberSerializer,
        responses={200: PhoneNumberSerializer, 422: ERROR_422},
    )
    @action(detail=True, methods=["post"])
    def configure(self, request, pk=None):
        number = self.get_object()
        serializer = ConfigureNumberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with provider_errors():
            number = services.configure_number(
                number, NumberConfig(**serializer.validated_data), actor=request
            )
        return self._answer(number)

    @extend_schema(
        summary="Point the number's webhooks at Switchboard",
        description="Configures the number's SMS, MMS and voice URLs (those its provider has) "
        "to this account's webhook URLs.",
        request=None,
        responses={200: PhoneNumberSerializer, 422: ERROR_422},
    )
    @action(detail=True, methods=["post"], url_path="route-to-switchboard")
    def route_to_switchboard(self, request, pk=None):
        number = self.get_object()
        with provider_errors():
            number = services.route_to_switchboard(number, actor=request)
        return self._answer(number)

    @extend_schema(
        summary="Release a number",
        description="Gives the number back to the provider; it stays listed, inactive. "
        "Releasing a released number changes nothing.",
        request=None,
        responses={200: PhoneNumberSerializer, 422: ERROR_422},
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        number = self.get_object()
        with provider_errors():
            number = services.release_number(number, actor=request)
        return self._answer(number)
