"""REST resources of the calls app: calls (with their legs) and recordings (read side;
placing calls is added by the calls service's own endpoint)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import BINARY, TenantScopedReadOnlyViewSet, stored_file_response
from accounts.models import Scope
from outbound.web import ERROR_409, ERROR_422, IDEMPOTENCY_KEY, account_of, send_actor, send_errors

from . import services
from .filters import CallFilter, RecordingFilter
from .models import Call, Recording
from .serializers import CallSerializer, PlaceCallSerializer, RecordingSerializer


class CallViewSet(TenantScopedReadOnlyViewSet):
    """Calls, newest first, with their legs."""

    queryset = Call.objects.all()
    serializer_class = CallSerializer
    filterset_class = CallFilter

    action_scopes = {"create": Scope.SEND}
    extra_error_statuses = {"create": [409, 422]}

    def safely_get_queryset(self, queryset):
        return queryset.prefetch_related("legs", "recordings")

    @extend_schema(
        summary="Place a call",
        description="Validates and queues the call; it is placed asynchronously and its state "
        "moves on by webhooks and syncs.",
        request=PlaceCallSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: CallSerializer, 409: ERROR_409, 422: ERROR_422},
    )
    def create(self, request):
        serializer = PlaceCallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with send_errors():
            call = services.place_call(
                self.tenant,
                account=account_of(self.tenant, data["provider_account"]),
                from_number=data["from"],
                to=data["to"],
                action=data["action"],
                timeout=data["timeout"],
                idempotency_key=request.headers.get("Idempotency-Key") or None,
                created_by=send_actor(request),
            )
        return Response(CallSerializer(call).data, status=status.HTTP_202_ACCEPTED)


class RecordingViewSet(TenantScopedReadOnlyViewSet):
    """Call recordings; `audio/` streams the stored file once it has been fetched."""

    queryset = Recording.objects.all()
    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter

    @extend_schema(responses={200: BINARY})
    @action(detail=True, methods=["get"])
    def audio(self, request, pk=None):
        recording = self.get_object()
        if recording.fetch_status != Recording.FetchStatus.FETCHED:
            raise Http404
        return stored_file_response(
            recording.file, recording.content_type or "audio/wav", recording.remote_id
        )
